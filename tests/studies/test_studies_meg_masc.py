"""MEG-MASC from a miniature of its BIDS release: sounds cut into segments, words, KIT runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from dataset_fixtures import write_meg_masc

from pipeline.audio import RATE, read_wav
from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json, read_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.studies.meg_masc import _literal

MEG_STEPS = [{"fn": "pick", "kwargs": {"types": ["mag"]}},
             {"fn": "filter", "kwargs": {"l_freq": 0.5, "h_freq": 20.0}},
             {"fn": "resample", "kwargs": {"sfreq": 50.0}},
             {"fn": "epoch", "kwargs": {"tmin": -0.2, "tmax": 3.0}}]
RUN = "sub-01/ses-0/meg/sub-01_ses-0_task-0_events.tsv"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_meg_masc(tmp_path_factory.mktemp("meg_masc"))


@pytest.fixture(scope="module")
def study(release, generate, tmp_path_factory):
    return generate("meg_masc", {"root": str(release), "val_fraction": 0.2,
                                 "test_fraction": 0.2}, tmp_path_factory.mktemp("raw"))


def test_each_sound_becomes_back_to_back_segments_that_are_the_trials(study, release):
    trials = read_tsv(study / RUN)
    released = read_tsv(release / RUN)
    starts = released[released["trial_type"].str.contains("'kind': 'sound'")]["onset"]
    assert len(trials) == 2 * len(starts)  # 6.5-s sounds hold two whole 3-s segments
    expected = [f"lw1_{sound}_s{k:03d}" for sound in range(5) for k in range(2)]
    assert trials["trial_type"].tolist() == expected
    np.testing.assert_allclose(trials["onset"], np.repeat(starts, 2) + np.tile([0.0, 3.0], 5))
    assert set(trials["sound"]) == {f"lw1_{sound}.wav" for sound in range(5)}


def test_segments_carry_their_words_audio_and_a_split_by_sound(study, release):
    table = read_tsv(study / "stimuli" / "stimuli.tsv")
    assert len(table) == 10
    assert table.groupby("sound")["split"].nunique().max() == 1
    assert table.drop_duplicates("sound")["split"].value_counts().to_dict() == {
        "train": 3, "val": 1, "test": 1}
    words = read_tsv(study / "stimuli" / "words.tsv")
    assert words["onset"].between(0, 3, inclusive="left").all()
    assert (words["offset"] > words["onset"]).all() and (words["offset"] <= 3).all()
    first = words[words["stimulus_id"] == "lw1_0_s000"]
    assert first["onset"].tolist() == pytest.approx([0.2, 0.65, 1.1, 1.55, 2.0, 2.45, 2.9])
    assert table.set_index("stimulus_id").loc["lw1_0_s000", "caption"] == " ".join(
        first["word"])
    waveform = read_wav(study / "stimuli" / "audio" / "lw1_0_s001.wav")
    assert len(waveform) == 3 * RATE
    whole = read_wav(release / "stimuli" / "audio" / "lw1_0.wav")
    np.testing.assert_allclose(waveform, whole[3 * RATE:6 * RATE], atol=2 / 32767)
    assert not (study / "stimuli" / "text").exists()  # the release's own stimuli stay there
    assert read_json(study / "dataset_description.json")["License"] == "CC BY 4.0"


def test_the_kit_runs_preprocess_to_one_epoch_per_segment_heard(study, tmp_path):
    summary = preprocess_study(PreprocessConfig(steps=MEG_STEPS), study, tmp_path)
    epochs = np.load(tmp_path / "epochs.npy")
    assert epochs.shape == (2 * 2 * 10, 8, 161)  # 2 subjects x 2 sessions x 10 segments
    assert summary["n_trials"] == {"train": 24, "val": 8, "test": 8}
    assert read_json(tmp_path / "info.json")["source"]["license"] == "CC BY 4.0"


def test_selects_subjects_and_names_unknown_ones(release, generate, tmp_path):
    one = generate("meg_masc", {"root": str(release), "subjects": ["02"]}, tmp_path / "one")
    assert sorted(path.name for path in one.glob("sub-*")) == ["sub-02"]
    with pytest.raises(ParamsError, match=r"meg_masc\.subjects: got 07"):
        generate("meg_masc", {"root": str(release), "subjects": ["07"]}, tmp_path / "no")


def _copy_release(release, target, edit_run):
    """A copy of ``release`` whose first run's events table went through ``edit_run``."""
    import shutil

    shutil.copytree(release, target)
    events = read_tsv(target / RUN)
    edit_run(events).to_csv(target / RUN, sep="\t", index=False)
    return target


def test_a_missing_sound_is_named(release, generate, tmp_path):
    root = _copy_release(release, tmp_path / "copy", lambda events: events)
    (root / "stimuli" / "audio" / "lw1_3.wav").unlink()
    with pytest.raises(DataError, match=r"sound 'stimuli/audio/lw1_3\.0\.wav' not found"):
        generate("meg_masc", {"root": str(root)}, tmp_path / "out")


def test_a_trial_type_that_is_no_dict_names_its_row(release, generate, tmp_path):
    def spoil(events: pd.DataFrame) -> pd.DataFrame:
        events.loc[2, "trial_type"] = "word"
        return events

    root = _copy_release(release, tmp_path / "copy", spoil)
    with pytest.raises(DataError, match=r"task-0_events\.tsv, row 3: trial_type 'word' is not"):
        generate("meg_masc", {"root": str(root)}, tmp_path / "out")


def test_dict_literals_may_hold_nan_but_nothing_callable():
    event = _literal("{'kind': 'word', 'phoneme': nan, 'start': 0.5}")
    assert event["kind"] == "word" and math.isnan(event["phoneme"])
    with pytest.raises(ValueError):
        _literal("{'kind': __import__('os').getcwd()}")
