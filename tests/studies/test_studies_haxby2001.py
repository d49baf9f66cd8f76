"""The haxby2001 study: the PyMVPA slice of Haxby et al. (2001) as BIDS func, and decoding it."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.evaluation.crossval import crossval
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.studies import generate_study
from pipeline.studies.haxby2001 import CAPTIONS, MASK, block_events
from pipeline.studies.options import StudyConfig

FUNC = {"estimator": "lagged", "split_events": True, "lag_window": [0.0, 2.5],
        "high_pass": None, "mask_file": str(MASK)}


@pytest.fixture(scope="module")
def haxby(shared_data, tmp_path_factory):
    """The study generated once from ../shared/data/haxby2001_slice."""
    out = tmp_path_factory.mktemp("haxby") / "raw"
    generate_study(StudyConfig(name="haxby2001", options={
        "haxby2001": {"path": str(shared_data / "haxby2001_slice")}}), out)
    return out


def test_haxby_writes_twelve_bids_runs_with_category_blocks(haxby):
    func = haxby / "sub-1" / "func"
    bolds = sorted(func.glob("*_bold.nii.gz"))
    assert [path.name for path in bolds][0] == "sub-1_task-objectviewing_run-01_bold.nii.gz"
    assert len(bolds) == 12
    image = nib.load(bolds[4])
    assert image.shape == (40, 20, 1, 121) and float(image.header.get_zooms()[3]) == 2.5
    sidecar = json.loads((func / "sub-1_task-objectviewing_run-05_bold.json").read_text())
    assert sidecar["RepetitionTime"] == 2.5
    for path in func.glob("*_events.tsv"):
        events = pd.read_csv(path, sep="\t")
        assert list(events.columns) == ["onset", "duration", "trial_type"]
        assert sorted(events["trial_type"]) == sorted(CAPTIONS)  # one block per category
        assert (events["duration"] == 22.5).all()
    mask = np.asarray(nib.load(haxby / MASK).dataobj)
    assert mask.shape == (40, 20, 1) and int(mask.sum()) == 530
    stimuli = pd.read_csv(haxby / "stimuli" / "stimuli.tsv", sep="\t")
    assert list(stimuli["stimulus_id"]) == list(CAPTIONS)
    assert stimuli["caption"].str.len().min() > 10
    readme = (haxby / "README").read_text()
    assert "CC BY-SA 3.0" in readme and "Haxby" in readme
    assert json.loads((haxby / "dataset_description.json").read_text())["License"] == \
        "CC BY-SA 3.0"


def test_block_events_merge_consecutive_volumes_and_drop_rest():
    labels = pd.Series(["rest", "cat", "cat", "rest", "face", "face", "face", "cat"])
    events = block_events(labels, tr=2.0)
    assert events.to_dict("list") == {"onset": [2.0, 8.0, 14.0], "duration": [4.0, 6.0, 2.0],
                                      "trial_type": ["cat", "face", "cat"]}


def test_missing_or_modified_data_is_named(tmp_path, shared_data):
    with pytest.raises(DataError, match=r"nowhere: does not exist; expected the PyMVPA slice .*"
                                        r"bold\.nii\.gz, mask\.nii\.gz.*study\.options"):
        generate_study(StudyConfig(name="haxby2001",
                                   options={"haxby2001": {"path": str(tmp_path / "nowhere")}}),
                       tmp_path / "raw")
    copy = tmp_path / "haxby2001_slice"
    shutil.copytree(shared_data / "haxby2001_slice", copy)
    (copy / "attributes_literal.txt").chmod(0o644)
    with open(copy / "attributes_literal.txt", "a") as stream:
        stream.write("rest 11\n")
    shutil.copy(shared_data / "SHA256SUMS", tmp_path / "SHA256SUMS")
    with pytest.raises(DataError, match=r"attributes_literal\.txt: SHA-256 differs from"):
        generate_study(StudyConfig(name="haxby2001", options={"haxby2001": {"path": str(copy)}}),
                       tmp_path / "raw")
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match=r"attributes_literal\.txt: 1453 lines; expected one per "
                                        r"volume \(1452\)"):
        generate_study(StudyConfig(name="haxby2001", options={"haxby2001": {"path": str(copy)}}),
                       tmp_path / "raw")


def test_haxby_preprocesses_to_one_trial_per_volume(haxby, tmp_path):
    out = tmp_path / "pre"
    out.mkdir()
    summary = preprocess_study(PreprocessConfig(steps=[], fmri=FUNC), haxby, out)
    assert summary["n_voxels"] == 530
    trials = pd.read_csv(out / "trials.tsv", sep="\t")
    assert len(trials) == 12 * 8 * 9 and trials["run"].nunique() == 12
    assert (trials.groupby("run")["block"].nunique() == 8).all()  # one block per category
    assert np.load(out / "betas.npy", mmap_mode="r").shape == (864, 530)
    source = json.loads((out / "info.json").read_text())["source"]
    assert source["license"] == "CC BY-SA 3.0" and source["authors"][0] == "James V. Haxby"


@pytest.mark.slow
def test_haxby_leave_one_run_out_matches_the_published_baseline(haxby, tmp_path):
    out = tmp_path / "pre"
    out.mkdir()
    preprocess_study(PreprocessConfig(steps=[], fmri=FUNC), haxby, out)
    cfg = CrossvalConfig(encoders={}, baselines={"logistic": {}}, n_bootstrap=200)
    metrics = crossval(cfg, out, None, tmp_path / "metrics.json", tmp_path / "plots")
    logistic = metrics["baselines"]["logistic"]
    assert metrics["n_folds"] == 12 and metrics["n_blocks"] == 96
    assert 0.55 < logistic["trial"]["accuracy"] < 0.75  # README: about 0.63 per volume
    assert logistic["block"]["accuracy"] > 0.65  # README: about 0.72 per block
