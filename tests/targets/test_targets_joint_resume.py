"""Checkpoints of the joint heads' fit: a fit killed part way resumes and ends as an
uninterrupted one (same weights, curves and early stop), and the heads' fit is seeded."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from pipeline.lightning_runs import LAST
from pipeline.targets import joint_training
from pipeline.targets.joint_heads import HeadsConfig
from pipeline.targets.joint_training import JointHeadsRun, ShuffledBatches, fit_heads

# dropout on, so the resumed fit must also continue the random draws; stops early
CFG = HeadsConfig(dim=8, hidden=16, dropout=0.3, temperature=0.07, lr=5e-2, weight_decay=0.01,
                  batch_size=16, max_epochs=60, patience=3)


@pytest.fixture(scope="module")
def pairs():
    """61 training and 19 validation pairs of related image and text features, 30 captions."""
    rng = np.random.default_rng(0)
    image = rng.standard_normal((80, 12)).astype(np.float32)
    text = (image @ rng.standard_normal((12, 20)) + rng.standard_normal((80, 20)) / 2)
    captions = [f"c{i % 30}" for i in range(80)]
    return image, text.astype(np.float32), captions, np.arange(61), np.arange(61, 80)


def fit(pairs, **kwargs):
    return fit_heads(*pairs, CFG, seed=5, **kwargs)


def assert_same_fit(a, b):
    (heads_a, info_a, curves_a), (heads_b, info_b, curves_b) = a, b
    assert curves_a == curves_b
    assert {**info_a, "seconds": 0} == {**info_b, "seconds": 0}
    for key, value in heads_a.state_dict().items():
        torch.testing.assert_close(heads_b.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_batches_are_a_fresh_permutation_without_batches_of_one():
    batches = ShuffledBatches(33, 16, seed=0)
    first, second = list(batches), list(batches)
    assert len(batches) == len(first) == 2 and [len(b) for b in first] == [16, 16]
    assert first != second
    assert len(ShuffledBatches(34, 16, seed=0)) == 3


def test_the_fit_stops_early_and_keeps_its_best_epoch(pairs):
    heads, info, curves = fit(pairs)
    assert info["epochs"] == len(curves) < CFG.max_epochs
    assert info["epochs"] - info["best_epoch"] == CFG.patience
    best = min(curves, key=lambda row: row["val_loss"])
    assert best["epoch"] == info["best_epoch"] and info["val_loss"] == round(best["val_loss"], 6)
    assert all(math.isfinite(row["train_loss"]) for row in curves)
    assert_same_fit((heads, info, curves), fit(pairs))


def test_a_crashed_fit_resumes_from_its_last_epoch(pairs, tmp_path, monkeypatch, caplog):
    reference = fit(pairs)
    checkpoints = tmp_path / "checkpoints"
    start = JointHeadsRun.on_train_epoch_start

    def crashing(self):
        if self.current_epoch == 5:
            raise RuntimeError("crash")
        start(self)

    with monkeypatch.context() as patch:
        patch.setattr(JointHeadsRun, "on_train_epoch_start", crashing)
        with pytest.raises(RuntimeError, match="crash"):
            fit(pairs, checkpoint_dir=checkpoints)
    assert torch.load(checkpoints / LAST, weights_only=True)["epoch"] == 4
    with caplog.at_level(logging.INFO, logger="pipeline"):
        resumed = fit(pairs, checkpoint_dir=checkpoints)
    assert "resuming from epoch 5" in caplog.text
    assert_same_fit(reference, resumed)
    assert not checkpoints.exists(), "checkpoints are removed after a successful fit"


def test_a_fit_stopped_early_and_killed_after_it_does_not_train_on(pairs, tmp_path,
                                                                  monkeypatch):
    reference = fit(pairs)
    checkpoints = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        patch.setattr(joint_training.shutil, "rmtree", lambda *args, **kwargs: exit("killed"))
        with pytest.raises(SystemExit):
            fit(pairs, checkpoint_dir=checkpoints)
    assert (checkpoints / LAST).is_file()
    assert_same_fit(reference, fit(pairs, checkpoint_dir=checkpoints))
