"""The bids study: an existing BIDS root mirrored (never modified), selected, renamed, and
preprocessed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_tsv
from pipeline.preprocess.montage import standard_montage
from pipeline.preprocess.study import preprocess_study
from pipeline.studies.bids_mirror import descriptions

STIMULI = ["face", "house"]


def _recording(seed: int) -> mne.io.RawArray:
    """16 10-20 EEG channels, 20 s at 250 Hz, 'face'/'house' alternating every 2 s."""
    montage = standard_montage("standard_1020")
    names = montage.ch_names[:16]
    data = 1e-5 * np.random.default_rng(seed).standard_normal((len(names), 5000))
    raw = mne.io.RawArray(data, mne.create_info(names, 250.0, "eeg"), verbose=False)
    raw.set_montage(montage)
    onsets = np.arange(1.0, 19.0, 2.0)
    raw.set_annotations(mne.Annotations(onsets, 0.0, [STIMULI[i % 2] for i in range(9)]))
    return raw


def _digest(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """sub-01 (tasks images and rest, plus a func/ folder) and sub-02 (images); also
    sourcedata/, .git/ and derivatives/ that the study must handle."""
    root = tmp_path_factory.mktemp("dataset")
    for subject, task, seed in (("01", "images", 1), ("01", "rest", 2), ("02", "images", 3)):
        path = mne_bids.BIDSPath(subject=subject, task=task, datatype="eeg", root=root)
        mne_bids.write_raw_bids(_recording(seed), path, format="BrainVision",
                                allow_preload=True, overwrite=True, verbose=False)
    func = root / "sub-01" / "func"
    func.mkdir()
    (func / "sub-01_task-images_bold.nii.gz").write_bytes(b"not read by the study")
    pd.DataFrame({"onset": [0.0, 4.0], "duration": [2.0, 2.0], "trial_type": STIMULI}).to_csv(
        func / "sub-01_task-images_events.tsv", sep="\t", index=False)
    for folder in ("sourcedata/raw", ".git", "derivatives/masks/sub-01",
                   "derivatives/masks/sub-02"):
        (root / folder).mkdir(parents=True)
        (root / folder / "file.txt").write_text(folder)
    mne_bids.make_dataset_description(path=root, name="test", overwrite=True, verbose=False)
    return root


@pytest.fixture
def unchanged(dataset):
    """Check after the test that the dataset's files are byte for byte as before."""
    before = _digest(dataset)
    yield dataset
    assert _digest(dataset) == before


def test_dataset_is_mirrored_by_links_and_preprocessed(unchanged, generate, shipped_cfg,
                                                       tmp_path):
    out = generate("bids", {"root": str(unchanged)}, tmp_path / "raw")
    header = Path("sub-01", "eeg", "sub-01_task-images_eeg.vhdr")
    assert (out / header).stat().st_ino == (unchanged / header).stat().st_ino
    assert (out / "sub-01" / "func" / "sub-01_task-images_bold.nii.gz").is_file()
    assert (out / "derivatives" / "masks" / "sub-02" / "file.txt").is_file()
    assert not (out / "sourcedata").exists() and not (out / ".git").exists()
    table = read_tsv(out / "stimuli" / "stimuli.tsv")
    assert table["stimulus_id"].tolist() == STIMULI and set(table["split"]) <= {"train", "val",
                                                                                 "test"}
    preprocessed = tmp_path / "preprocessed"
    preprocessed.mkdir()
    summary = preprocess_study(shipped_cfg.model_copy(update={"datatype": "eeg"}), out,
                               preprocessed)
    trials = read_tsv(preprocessed / "trials.tsv")
    assert summary["n_recordings"] == 3 and len(trials) == 27
    assert trials["stimulus_id"].value_counts().to_dict() == {"face": 15, "house": 12}


def test_subjects_and_tasks_select_files(unchanged, generate, tmp_path):
    out = generate("bids", {"root": str(unchanged), "subjects": ["02"], "tasks": ["images"]},
                   tmp_path / "raw")
    assert [path.name for path in out.glob("sub-*")] == ["sub-02"]
    assert not (out / "derivatives" / "masks" / "sub-01").exists()
    out = generate("bids", {"root": str(unchanged), "tasks": ["rest"]}, tmp_path / "rest")
    names = [path.name for path in (out / "sub-01" / "eeg").iterdir()]
    assert "sub-01_task-rest_eeg.vhdr" in names
    assert not any("task-images" in path.name for path in out.rglob("*"))


def test_events_mapping_writes_new_events_files(unchanged, generate, tmp_path):
    out = generate("bids", {"root": str(unchanged), "subjects": ["01"],
                            "events": {"face": "a face"}}, tmp_path / "raw")
    events = Path("sub-01", "eeg", "sub-01_task-images_events.tsv")
    assert (out / events).stat().st_ino != (unchanged / events).stat().st_ino
    table = read_tsv(out / events)
    assert table["trial_type"].tolist()[:2] == ["a face", "house"]
    assert table["source_trial_type"].tolist()[:2] == ["face", "house"]
    assert read_tsv(out / "stimuli" / "stimuli.tsv")["stimulus_id"].tolist() == ["a face"]
    raw = mne_bids.read_raw_bids(mne_bids.BIDSPath(subject="01", task="images", datatype="eeg",
                                                   root=out), verbose=False)
    assert pd.Series(raw.annotations.description).value_counts().to_dict() == {"a face": 5,
                                                                              "house": 4}


def test_the_datasets_own_stimulus_table_is_kept(dataset, generate, tmp_path):
    root = Path(shutil.copytree(dataset, tmp_path / "copy"))
    (root / "stimuli").mkdir()
    pd.DataFrame({"stimulus_id": ["face", "house", "car"]}).to_csv(
        root / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    out = generate("bids", {"root": str(root)}, tmp_path / "raw")
    assert read_tsv(out / "stimuli" / "stimuli.tsv")["stimulus_id"].tolist() == ["face", "house",
                                                                                  "car"]


def test_invalid_roots_and_selections_are_named(dataset, generate, tmp_path):
    def error(kind, match, **options):
        with pytest.raises(kind, match=match):
            generate("bids", {"root": str(dataset), **options}, tmp_path / "raw")

    error(DataError, "not a folder", root=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    error(DataError, "empty: no dataset_description.json", root=str(tmp_path / "empty"))
    (tmp_path / "empty" / "dataset_description.json").write_text("{}")
    error(DataError, r"empty: no sub-\*/ folder", root=str(tmp_path / "empty"))
    error(ParamsError, r"bids\.subjects: got 07; expected labels of .*: 01, 02", subjects=["07"])
    error(ParamsError, r"bids\.tasks: got faces; expected tasks of .*: images, rest",
          tasks=["faces"])
    error(ParamsError, r"bids\.events: got fase; expected trial types of .*: face, house",
          events={"fase": "face"})
    error(DataError, r"stimuli\.tsv: file not found", stimuli=str(tmp_path / "stimuli.tsv"))


def test_descriptions_follow_mne_bids(dataset, tmp_path):
    root = Path(shutil.copytree(dataset, tmp_path / "copy"))
    path = mne_bids.BIDSPath(subject="02", task="images", datatype="eeg", root=root)
    events = path.copy().update(suffix="events", extension=".tsv").fpath
    table = read_tsv(events)
    table["value"] = np.arange(len(table)) % 3  # one trial type, several values: type/value
    table.loc[0, "trial_type"] = "n/a"
    table.to_csv(events, sep="\t", index=False)
    raw = mne_bids.read_raw_bids(path, verbose=False)
    text = pd.read_csv(events, sep="\t", dtype=str, keep_default_na=False)
    ours = [name for name in descriptions(text) if name != "n/a"]
    assert ours == list(raw.annotations.description)
    assert "house/1" in ours
