"""THINGS-EEG2 from a miniature of its preprocessed release: epochs, images, splits, licence."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_fixtures import THINGS_EEG2_CHANNELS, write_things_eeg2

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json, read_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_things_eeg2(tmp_path_factory.mktemp("things_eeg2"))


@pytest.fixture(scope="module")
def study(release, generate, tmp_path_factory):
    eeg, images = release
    return generate("things_eeg2", {"eeg": str(eeg), "images": str(images),
                                    "val_fraction": 0.34}, tmp_path_factory.mktemp("raw"))


def test_the_published_split_is_kept_and_validation_takes_whole_concepts(study):
    table = read_tsv(study / "stimuli" / "stimuli.tsv")
    assert table["split"].value_counts().to_dict() == {"train": 12, "val": 6, "test": 4}
    assert table.groupby("concept")["split"].nunique().max() == 1  # a concept in one split
    test = table[table["split"] == "test"]
    assert set(test["concept"]).isdisjoint(table.loc[table["split"] != "test", "concept"])
    captions = dict(zip(table["concept"], table["caption"], strict=True))
    assert (captions["00001_aardvark"], captions["00002_ice_cream"], captions["00003_bat2"]) == (
        "aardvark", "ice cream", "bat")
    assert all((study / "stimuli" / name).is_file() for name in table["image"])


def test_the_licence_and_citation_travel_with_the_data(study, tmp_path):
    description = read_json(study / "dataset_description.json")
    assert description["License"].startswith("CC BY 4.0")
    assert "10.1016/j.neuroimage.2022.119754" in description["ReferencesAndLinks"][0]
    preprocess_study(PreprocessConfig(), study, tmp_path)
    assert read_json(tmp_path / "info.json")["source"]["license"].startswith("CC BY 4.0")


def test_every_repetition_becomes_a_trial_through_the_epochs_pipeline(study, tmp_path):
    cfg = PreprocessConfig(steps=[{"fn": "baseline", "kwargs": {"tmin": -0.2, "tmax": 0.0}},
                                  {"fn": "robust_scale", "kwargs": {"clamp": 20.0}}])
    summary = preprocess_study(cfg, study, tmp_path)
    epochs = np.load(tmp_path / "epochs.npy")
    trials = read_tsv(tmp_path / "trials.tsv")
    info = read_json(tmp_path / "info.json")
    # 2 subjects x (18 training images x 4 repetitions + 4 test images x 8 repetitions)
    assert epochs.shape == (2 * (18 * 4 + 4 * 8), 17, 100)
    assert summary["n_trials"] == {"train": 2 * 12 * 4, "val": 2 * 6 * 4, "test": 2 * 4 * 8}
    assert info["ch_names"] == THINGS_EEG2_CHANNELS and info["sfreq"] == 100.0
    assert info["tmin"] == pytest.approx(-0.2)
    assert np.isfinite(np.asarray(info["ch_pos"])).all()
    test = trials[trials["split"] == "test"]
    assert test.groupby(["subject", "stimulus_id"])["repetition"].max().eq(7).all()


def test_steps_on_continuous_data_are_refused_for_epoched_releases(study, tmp_path):
    cfg = PreprocessConfig(steps=[{"fn": "filter", "kwargs": {"l_freq": 1.0}}])
    with pytest.raises(ParamsError, match=r"steps\[0\] filter needs a continuous recording "
                                          r"and the study's recordings are already epoched"):
        preprocess_study(cfg, study, tmp_path)


def test_a_damaged_release_is_named(release, generate, tmp_path):
    eeg, images = release
    options = {"eeg": str(eeg), "images": str(images)}
    with pytest.raises(ParamsError, match=r"things_eeg2\.subjects: got 07; expected subjects"):
        generate("things_eeg2", {**options, "subjects": ["07"]}, tmp_path / "a")
    with pytest.raises(DataError, match=r"not a folder \(study\.options\.things_eeg2\.images\)"):
        generate("things_eeg2", {**options, "images": str(tmp_path / "none")}, tmp_path / "b")
    short = tmp_path / "short" / "sub-01"
    short.mkdir(parents=True)
    saved = np.load(eeg / "sub-01" / "preprocessed_eeg_training.npy", allow_pickle=True).item()
    np.save(short / "preprocessed_eeg_training.npy",
            {**saved, "preprocessed_eeg_data": saved["preprocessed_eeg_data"][:5]})
    with pytest.raises(DataError, match=r"preprocessed_eeg_data of shape \(5, 4, 17, 100\); "
                                        r"expected \(18 images"):
        generate("things_eeg2", {**options, "eeg": str(tmp_path / "short")}, tmp_path / "c")
