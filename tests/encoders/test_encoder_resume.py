"""Checkpoints: a killed or crashed fit resumes and ends as an uninterrupted seeded fit."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from pipeline.config import load_section
from pipeline.encoders import fit_lightning
from pipeline.encoders.checkpoints import run_checkpoints
from pipeline.encoders.curves import CURVE_COLUMNS
from pipeline.encoders.lit_module import EncoderLitModule
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.train import fit_encoder
from pipeline.lightning_runs import LAST

# Dropout and spatial dropout on: the resumed run must also continue the random draws.
CONV = {"hidden_channels": 8, "depth": 1, "spatial_channels": 8, "n_fourier": 3,
        "dropout": 0.2, "spatial_dropout": 0.2}
CFG = TrainConfig(max_epochs=5, batch_size=12, patience=10, lr=3e-3, num_threads=1)


def fit(study, out, cfg=CFG, **kwargs):
    return fit_encoder("conv", CONV, cfg, study["preprocessed"], study["targets"], out, **kwargs)


def assert_same_fit(a, b):
    """Equal history, weights and train.json (but the fit time) in model dirs a and b."""
    pd.testing.assert_frame_equal(pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv"))
    weights_a, weights_b = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    for key, value in weights_a.items():
        torch.testing.assert_close(weights_b[key], value, rtol=0, atol=0, msg=key)
    summary_a, summary_b = (json.loads((d / "train.json").read_text()) for d in (a, b))
    assert {**summary_a, "fit_seconds": 0} == {**summary_b, "fit_seconds": 0}


def crash_at_epoch(monkeypatch, epoch):
    """Make the next fit raise when ``epoch`` starts (its last.ckpt is of epoch - 1)."""
    start = EncoderLitModule.on_train_epoch_start

    def crashing(self):
        if self.current_epoch == epoch:
            raise RuntimeError("crash")
        start(self)

    monkeypatch.setattr(EncoderLitModule, "on_train_epoch_start", crashing)


def test_a_crashed_fit_resumes_from_its_last_epoch(make_synthetic_study, tmp_path,
                                                   monkeypatch, caplog):
    study = make_synthetic_study("study")
    checkpoints, curves = tmp_path / "checkpoints", tmp_path / "training.csv"
    fit(study, tmp_path / "reference")  # uninterrupted, temporary checkpoints
    with monkeypatch.context() as patch:
        crash_at_epoch(patch, 3)
        with pytest.raises(RuntimeError, match="crash"):
            fit(study, tmp_path / "crashed", checkpoint_dir=checkpoints, curves=curves)
    assert torch.load(checkpoints / LAST, weights_only=True)["epoch"] == 2
    assert pd.read_csv(curves)["epoch"].tolist() == [0, 1, 2], "written after every epoch"
    with caplog.at_level(logging.INFO, logger="pipeline"):
        fit(study, tmp_path / "resumed", checkpoint_dir=checkpoints, curves=curves)
    assert "resuming from epoch 3" in caplog.text
    assert_same_fit(tmp_path / "reference", tmp_path / "resumed")
    assert not checkpoints.exists(), "checkpoints are removed after a successful fit"
    reference = pd.read_csv(tmp_path / "reference" / "history.csv")[CURVE_COLUMNS]
    pd.testing.assert_frame_equal(pd.read_csv(curves), reference)  # every epoch, once


def test_a_fit_stopped_early_and_killed_before_its_outputs_does_not_train_on(
    make_synthetic_study, tmp_path, monkeypatch
):
    study = make_synthetic_study("study")
    cfg = CFG.model_copy(update={"max_epochs": 20, "patience": 1, "lr": 0.03})
    fit(study, tmp_path / "reference", cfg=cfg)
    history = pd.read_csv(tmp_path / "reference" / "history.csv")
    assert len(history) < 20, "stops early"
    assert history["val_loss"].idxmin() < len(history) - 1, "epochs without progress are kept"
    checkpoints = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        patch.setattr(fit_lightning, "read_outcome", lambda *args: sys.exit("killed"))
        with pytest.raises(SystemExit):
            fit(study, tmp_path / "killed", cfg=cfg, checkpoint_dir=checkpoints)
    fit(study, tmp_path / "resumed", cfg=cfg, checkpoint_dir=checkpoints)
    assert_same_fit(tmp_path / "reference", tmp_path / "resumed")


def test_checkpoints_of_another_run_are_discarded(make_synthetic_study, tmp_path, monkeypatch,
                                                 caplog):
    study = make_synthetic_study("study")
    checkpoints = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        crash_at_epoch(patch, 2)
        with pytest.raises(RuntimeError, match="crash"):
            fit(study, tmp_path / "crashed", checkpoint_dir=checkpoints)
    other = CFG.model_copy(update={"lr": 1e-3})
    with caplog.at_level(logging.INFO, logger="pipeline"):
        fit(study, tmp_path / "other", cfg=other, checkpoint_dir=checkpoints)
    assert "discarding the checkpoints" in caplog.text and "resuming" not in caplog.text
    assert pd.read_csv(tmp_path / "other" / "history.csv")["epoch"].tolist() == [0, 1, 2, 3, 4]

    checkpoints.mkdir()
    (checkpoints / LAST).write_bytes(b"half-written")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline"):
        fit(study, tmp_path / "fresh", cfg=other, checkpoint_dir=checkpoints)
    assert "cannot be read" in caplog.text
    assert_same_fit(tmp_path / "other", tmp_path / "fresh")


def test_fingerprint_follows_params_code_and_inputs_not_placement(make_synthetic_study,
                                                                  tmp_path):
    study = make_synthetic_study("study")
    inputs = [study["preprocessed"], study["targets"]]

    def fingerprint(cfg=CFG, options=CONV):
        return run_checkpoints(tmp_path, "conv", options, cfg, inputs).fingerprint

    base = fingerprint()
    placement = {"devices": 2, "strategy": "ddp", "num_threads": 4, "accelerator": "auto"}
    assert fingerprint(CFG.model_copy(update=placement)) == base
    assert fingerprint(CFG.model_copy(update={"seed": 1})) != base
    assert fingerprint(options={**CONV, "depth": 2}) != base
    trials = study["preprocessed"] / "trials.tsv"
    stat = trials.stat()
    os.utime(trials, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert fingerprint() != base


@pytest.mark.slow
def test_killed_stage_resumes_and_matches_an_uninterrupted_run(make_synthetic_study,
                                                               project_root, tmp_path):
    """SIGKILL `python stages/train.py` once last.ckpt holds epoch >= 1, rerun it: the
    history, weights and train.json equal those of an uninterrupted run exactly."""
    study = make_synthetic_study("study")
    params = tmp_path / "params.yaml"
    train = {"encoder": {"name": "conv", "options": {"conv": CONV}}, "max_epochs": 30,
             "patience": 30, "batch_size": 12, "lr": 3e-3, "num_threads": 1}
    params.write_text(yaml.safe_dump({"train": train}))
    fit(study, tmp_path / "reference", cfg=load_section(TrainConfig, params))
    checkpoints, out = tmp_path / "checkpoints", tmp_path / "model"
    command = [sys.executable, str(project_root / "stages" / "train.py"), "--params",
               str(params), "--preprocessed", str(study["preprocessed"]), "--targets",
               str(study["targets"]), "--out", str(out), "--checkpoints", str(checkpoints)]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if (checkpoints / LAST).is_file():  # saved atomically: never half-written
            if torch.load(checkpoints / LAST, weights_only=True)["epoch"] >= 1:
                os.killpg(process.pid, signal.SIGKILL)
                break
        time.sleep(0.05)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it was killed"
    assert not out.exists()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from epoch" in result.stderr
    assert_same_fit(tmp_path / "reference", out)
    assert not checkpoints.exists()
