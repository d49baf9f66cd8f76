"""The pretrain stage: outputs of each method, masking, splits read, params errors."""

from __future__ import annotations

import json
import logging
import runpy
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from pipeline import stage
from pipeline.artifacts import Preprocessed
from pipeline.config import STUDY_GROUPS, load_section
from pipeline.errors import DataError, ParamsError
from pipeline.pretrain import PRETRAINERS, data
from pipeline.pretrain.masked import random_time_mask
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.run import pretrain_study

FAST = {"tokenizer_epochs": 2, "epochs": 2, "batch_size": 16,
        "codebook": {"size": 8, "dim": 4, "hidden": 16, "collapse_perplexity": 1.0}}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_time_mask_hides_the_same_number_of_patches_in_every_trial():
    torch.manual_seed(0)
    mask = random_time_mask(batch=50, n_patches=10, ratio=0.3)
    assert mask.shape == (50, 10) and mask.dtype == torch.bool
    assert (mask.sum(dim=1) == 3).all()
    assert len({tuple(row.tolist()) for row in mask}) > 10  # positions vary by trial
    assert (random_time_mask(4, 2, 0.9).sum(dim=1) == 1).all()  # one patch stays visible
    assert (random_time_mask(4, 5, 0.01).sum(dim=1) == 1).all()  # at least one is masked


def test_stage_writes_the_codebook_outputs(make_pretrain_study, tiny_backbone, project_root,
                                           tmp_path, monkeypatch, caplog):
    """The backbone options come from train.encoder.options, whatever encoder train uses."""
    study = make_pretrain_study("study")
    overrides = {section: {} for section in STUDY_GROUPS["studies"]}
    overrides["pretrain"] = {"tokenizer_epochs": 2}  # merged onto the shared section
    params = {
        "pretrain": {**FAST, "method": "codebook", "tokenizer_epochs": 5},
        "train": {"encoder": {"name": "conv",
                              "options": {"patch_transformer": tiny_backbone}}},
        "studies": {"eeg": overrides},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "pretrained"
    monkeypatch.setattr(stage, "setup_logging", lambda name: None)  # keep pytest's log capture
    monkeypatch.setattr(sys, "argv", [
        "pretrain.py", "--params", str(tmp_path / "params.yaml"), "--study", "eeg",
        "--preprocessed", str(study["preprocessed"]), "--out", str(out),
    ])
    with caplog.at_level(logging.INFO, logger="pipeline.pretrain"):
        runpy.run_path(str(project_root / "stages" / "pretrain.py"), run_name="__main__")
    names = {path.name for path in out.iterdir()}
    assert {"backbone.safetensors", "tokenizer.safetensors", "config.json", "pretrain.json",
            "history.csv", "codebook_usage.png"} <= names
    summary = json.loads((out / "pretrain.json").read_text())
    assert summary["method"] == "codebook" and summary["n_trials"] == 44  # train + val
    assert 1.0 <= summary["perplexity"] <= 8 and 0 < summary["usage"] <= 1
    assert summary["collapsed"] is False and "seconds" not in summary  # byte-identical reruns
    assert set(summary["losses"]) == {"reconstruction", "commitment", "masked_code"}
    history = pd.read_csv(out / "history.csv")
    assert list(history["phase"]) == ["tokenizer"] * 2 + ["masked"] * 2
    assert history.loc[history["phase"] == "tokenizer", "perplexity"].notna().all()
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["d_model"] == tiny_backbone["d_model"]
    assert config["signal"]["n_chans"] == 6 and "n_outputs" not in config["signal"]
    backbone = load_file(str(out / "backbone.safetensors"))
    assert "time_embed" in backbone and not any(key.startswith("head.") for key in backbone)
    assert "quantizer.codebook" in load_file(str(out / "tokenizer.safetensors"))
    epochs = [r for r in caplog.records if "codebook perplexity" in r.getMessage()]
    assert len(epochs) == 2  # one line per tokenizer epoch


def test_none_writes_only_pretrain_json(tmp_path):
    summary = pretrain_study(PretrainConfig(), {}, tmp_path / "absent", tmp_path / "out")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["pretrain.json"]
    assert summary["method"] == "none" and "no pretraining" in summary["note"]


class SpyEpochs(np.ndarray):
    """An epochs array that records the trials indexed."""

    read: set[int]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            SpyEpochs.read.add(int(index))
        return np.asarray(self).__getitem__(index)


@pytest.mark.parametrize("method", ["codebook", "mae"])
def test_only_the_configured_splits_are_read(method, make_pretrain_study, tiny_backbone,
                                             tmp_path, monkeypatch):
    study = make_pretrain_study("study", nan_test=True)
    read_preprocessed = data.read_preprocessed

    def spy(path):
        found = read_preprocessed(path)
        return Preprocessed(found.epochs.view(SpyEpochs), found.trials, found.info, found.path)

    SpyEpochs.read = set()
    monkeypatch.setattr(data, "read_preprocessed", spy)
    cfg = PretrainConfig(method=method, splits=["train"], **FAST)
    summary = pretrain_study(cfg, tiny_backbone, study["preprocessed"], tmp_path / "out")
    trials = pd.read_csv(study["preprocessed"] / "trials.tsv", sep="\t")
    assert SpyEpochs.read == set(np.flatnonzero(trials["split"] == "train"))
    assert summary["n_trials"] == 32 and summary["splits"] == ["train"]
    assert all(np.isfinite(value) for value in summary["losses"].values())
    weights = load_file(str(tmp_path / "out" / "backbone.safetensors"))
    assert all(torch.isfinite(value).all() for value in weights.values())


def test_seeded_pretraining_is_reproducible(make_pretrain_study, tiny_backbone, tmp_path):
    study = make_pretrain_study("study")
    cfg = PretrainConfig(method="mae", seed=3, **FAST)
    for name in ("a", "b"):
        pretrain_study(cfg, tiny_backbone, study["preprocessed"], tmp_path / name)
    a, b = (load_file(str(tmp_path / name / "backbone.safetensors")) for name in ("a", "b"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_params_errors_are_one_line(tmp_path, make_pretrain_study, tiny_backbone):
    with pytest.raises(ValueError, match=r"got \['test'\]; expected train and/or val"):
        PretrainConfig(splits=["train", "test"])
    with pytest.raises(ValueError, match=f"expected one of {', '.join(PRETRAINERS.names())}"):
        PretrainConfig(method="bert")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"pretrain": {"mask_ratio": 1.5}}))
    with pytest.raises(ParamsError, match=r"pretrain\.mask_ratio: .*less than 1"):
        load_section(PretrainConfig, params)
    with pytest.raises(ParamsError, match="'bogus'"):
        pretrain_study(PretrainConfig(method="mae"), {"bogus": 1}, tmp_path, tmp_path / "out")
    study = make_pretrain_study("study")
    with pytest.raises(DataError, match="no trial in splits"):
        trials = pd.read_csv(study["preprocessed"] / "trials.tsv", sep="\t")
        trials.assign(split="test").to_csv(study["preprocessed"] / "trials.tsv", sep="\t",
                                           index=False)
        pretrain_study(PretrainConfig(method="mae"), tiny_backbone, study["preprocessed"],
                       tmp_path / "out")
