"""preprocess.holdout_subjects: held-out subjects' train/val trials become unused, tests stay."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import parse_section
from pipeline.errors import ParamsError
from pipeline.io import read_json
from pipeline.preprocess.holdout import hold_out
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study

EPOCH_ONLY = {"steps": [{"fn": "epoch", "kwargs": {"tmin": 0.0, "tmax": 0.2}}]}


def test_preprocess_holds_subjects_out_of_train_and_val(study, tmp_path):
    cfg = PreprocessConfig.model_validate({**EPOCH_ONLY, "holdout_subjects": ["sub-02"]})
    assert cfg.holdout_subjects == ["02"]
    summary = preprocess_study(cfg, study, tmp_path)
    trials = pd.read_csv(tmp_path / "trials.tsv", sep="\t", dtype=str, keep_default_na=False)
    first, second = trials[trials["subject"] == "01"], trials[trials["subject"] == "02"]
    assert set(first["split"]) == {"train", "val", "test"}
    assert set(second["split"]) == {"unused", "test"}
    assert (second["split"] == "test").sum() == (first["split"] == "test").sum() == 6
    assert summary["n_trials"] == {"train": 26, "val": 6, "test": 12, "unused": 32}
    assert set(trials["run"]) == {"n/a"}  # the table is rewritten cell for cell
    assert read_json(tmp_path / "info.json")["holdout_subjects"] == ["02"]


def test_without_holdout_nothing_changes(study, tmp_path):
    preprocess_study(PreprocessConfig.model_validate(EPOCH_ONLY), study, tmp_path)
    assert "unused" not in set(pd.read_csv(tmp_path / "trials.tsv", sep="\t")["split"])
    assert "holdout_subjects" not in read_json(tmp_path / "info.json")


def test_unknown_or_every_subject_is_a_params_error():
    trials = pd.DataFrame({"subject": ["01", "01", "02"], "split": ["train", "test", "val"]})
    with pytest.raises(ParamsError, match=r"holdout_subjects: got \['07'\], not in t.tsv; "
                                          r"expected some of \['01', '02'\]"):
        hold_out(trials, ["07"], "t.tsv")
    with pytest.raises(ParamsError, match="expected at least one subject .* left"):
        hold_out(trials, ["01", "02"], "t.tsv")
    held = hold_out(trials, ["01"], "t.tsv")
    assert held["split"].tolist() == ["unused", "test", "val"]
    assert trials["split"].tolist() == ["train", "test", "val"]  # the input is unchanged
    with pytest.raises(ParamsError, match="holdout_subjects: got .*distinct"):
        parse_section(PreprocessConfig, {"holdout_subjects": ["01", "sub-01"]})
