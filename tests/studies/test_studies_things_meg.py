"""THINGS-MEG from a miniature of its BIDS release: trials named by image, splits, CTF runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dataset_fixtures import write_things_meg

from pipeline.errors import DataError
from pipeline.io import read_json, read_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study

MEG_STEPS = [{"fn": "pick", "kwargs": {"types": ["mag"]}},
             {"fn": "filter", "kwargs": {"l_freq": 0.5, "h_freq": 40.0}},
             {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}},
             {"fn": "baseline", "kwargs": {"tmin": -0.1, "tmax": 0.0}}]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_things_meg(tmp_path_factory.mktemp("things_meg"))


@pytest.fixture(scope="module")
def study(release, generate, tmp_path_factory):
    root, images = release
    return generate("things_meg", {"root": str(root), "images": str(images),
                                   "val_fraction": 0.25}, tmp_path_factory.mktemp("raw"))


def test_each_trial_is_named_by_the_image_of_its_attributes_row(study, release):
    root, _ = release
    attributes = pd.read_csv(root / "sourcedata" / "sample_attributes_P1.csv")
    for run in (1, 2):
        name = f"sub-BIGMEG1_ses-01_task-main_run-{run:02d}_events.tsv"
        events = read_tsv(study / "sub-BIGMEG1" / "ses-01" / "meg" / name)
        rows = attributes[attributes["run_nr"] == run]
        expected = [path.rsplit("/", 1)[-1][:-4] if kind != "catch" else "catch"
                    for kind, path in zip(rows["trial_type"], rows["image_path"], strict=True)]
        assert events["trial_type"].tolist() == expected
        assert events["source_value"].tolist() == rows["things_image_nr"].tolist()


def test_test_images_are_the_published_test_split(study):
    table = read_tsv(study / "stimuli" / "stimuli.tsv")
    assert table["split"].value_counts().to_dict() == {"train": 6, "val": 2, "test": 2}
    assert set(table.loc[table["split"] == "test", "stimulus_id"]) == {"aardvark_09s",
                                                                       "ice_cream_09s"}
    assert "catch_01" not in set(table["stimulus_id"])
    assert table.loc[table["split"] != "test"].groupby("concept")["split"].nunique().max() == 1
    assert all((study / "stimuli" / image).is_file() for image in table["image"])
    assert read_json(study / "dataset_description.json")["License"].startswith("CC0")


def test_the_ctf_runs_preprocess_to_one_epoch_per_non_catch_trial(study, tmp_path):
    summary = preprocess_study(PreprocessConfig(steps=MEG_STEPS), study, tmp_path)
    epochs = np.load(tmp_path / "epochs.npy")
    assert epochs.shape == (2 * 10, 8, 121)  # 2 runs x 10 images, 200 Hz, -0.1..0.5 s
    assert summary["n_trials"] == {"train": 12, "val": 4, "test": 4}
    assert read_json(tmp_path / "info.json")["source"]["license"].startswith("CC0")


def test_missing_attributes_and_images_are_named(release, generate, tmp_path):
    root, images = release
    with pytest.raises(DataError, match=r"not a folder \(study\.options\.things_meg\.images\)"):
        generate("things_meg", {"root": str(root), "images": str(tmp_path / "no")},
                 tmp_path / "a")
    partial = tmp_path / "partial"
    for image in sorted(images.rglob("*.jpg"))[1:]:
        (partial / image.relative_to(images)).parent.mkdir(parents=True, exist_ok=True)
        (partial / image.relative_to(images)).write_bytes(image.read_bytes())
    with pytest.raises(DataError, match=r"1 images missing, e\.g\. aardvark/aardvark_01b\.jpg"):
        generate("things_meg", {"root": str(root), "images": str(partial)}, tmp_path / "b")
