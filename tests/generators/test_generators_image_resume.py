"""Checkpoints of the ``diffusion`` generator: a fit killed part way resumes and ends as an
uninterrupted one (the UNet and the prior are Lightning runs, one epoch per evaluation)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import torch

from pipeline.generators.base import StimulusSet
from pipeline.generators.image.diffusion import DiffusionGenerator
from pipeline.generators.image.step_training import StepBatches, StepRun
from pipeline.lightning_runs import LAST

# 25 steps with an evaluation every 10: periods of 10, 10 and 5 steps
TINY = {"image_size": 16, "patch_size": 4, "block_out_channels": [16, 16], "steps": 25,
        "eval_every": 10, "batch_size": 8, "lr": 3e-3, "low_level": False, "prior": True,
        "prior_steps": 25, "prior_width": 16}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fit(stimuli: StimulusSet, **kwargs) -> DiffusionGenerator:
    options = DiffusionGenerator.parse_options(TINY)
    return DiffusionGenerator.fit(options, stimuli.split("train"), stimuli.split("val"), seed=0,
                                  **kwargs)


def assert_same_fit(a: DiffusionGenerator, b: DiffusionGenerator) -> None:
    assert a.history == b.history and a.prior.history == b.prior.history
    for name, (module_a, module_b) in {"unet": (a.unet, b.unet), "encoder": (a.encoder, b.encoder),
                                       "prior": (a.prior.net, b.prior.net)}.items():
        for key, value in module_a.state_dict().items():
            torch.testing.assert_close(module_b.state_dict()[key], value, rtol=0, atol=0,
                                       msg=f"{name}.{key}")


def crash(monkeypatch, name: str, epoch: int) -> None:
    """Make the next fit raise when epoch ``epoch`` of run ``name`` starts."""
    def crashing(self):
        if self.name == name and self.current_epoch == epoch:
            raise RuntimeError("crash")

    monkeypatch.setattr(StepRun, "on_train_epoch_start", crashing, raising=False)


@pytest.fixture(scope="module")
def reference(stimulus_set) -> DiffusionGenerator:
    return fit(stimulus_set)


def test_step_batches_yield_one_evaluation_period_per_pass():
    batches = StepBatches(lambda generator: torch.rand(1, generator=generator), 25, 10, seed=0)
    passes = [list(batches) for _ in range(batches.periods)]
    assert [len(batch) for batch in passes] == [10, 10, 5] and list(batches) == []
    again = StepBatches(batches.draw, 25, 10, seed=0)
    list(again)
    state = again.state_dict()
    resumed = StepBatches(batches.draw, 25, 10, seed=0)
    resumed.load_state_dict(state)
    assert torch.equal(torch.cat(list(resumed)), torch.cat(passes[1]))


def test_a_fit_killed_in_its_prior_resumes_both_runs(reference, stimulus_set, tmp_path,
                                                      monkeypatch, caplog):
    checkpoints = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        crash(patch, "prior", 2)
        with pytest.raises(RuntimeError, match="crash"):
            fit(stimulus_set, checkpoint_dir=checkpoints)
    assert torch.load(checkpoints / "diffusion" / LAST, weights_only=True)["epoch"] == 2
    assert torch.load(checkpoints / "prior" / LAST, weights_only=True)["epoch"] == 1
    with caplog.at_level(logging.INFO, logger="pipeline"):
        resumed = fit(stimulus_set, checkpoint_dir=checkpoints)
    assert caplog.text.count("resuming from epoch") == 2
    assert "diffusion step" not in caplog.text, "the finished run is read, not trained again"
    assert [row["step"] for row in caplog_rows(caplog, "prior step")] == ["25/25"]
    assert_same_fit(reference, resumed)


def caplog_rows(caplog, prefix: str) -> list[dict[str, str]]:
    """The step field ("<step>/<steps>") of the log lines starting with ``prefix``."""
    return [{"step": record.getMessage().split()[2].rstrip(":")} for record in caplog.records
            if record.getMessage().startswith(prefix)]


def test_checkpoints_of_another_fit_are_discarded(reference, stimulus_set, tmp_path,
                                                  monkeypatch, caplog):
    checkpoints = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        crash(patch, "diffusion", 1)
        with pytest.raises(RuntimeError, match="crash"):
            DiffusionGenerator.fit(DiffusionGenerator.parse_options({**TINY, "lr": 1e-3}),
                                   stimulus_set.split("train"), stimulus_set.split("val"),
                                   seed=0, checkpoint_dir=checkpoints)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        again = fit(stimulus_set, checkpoint_dir=checkpoints)
    assert "discarding the checkpoints" in caplog.text and "resuming" not in caplog.text
    assert_same_fit(reference, again)


def test_a_saved_generator_carries_its_curves(reference, tmp_path):
    reference.save(tmp_path / "gen")
    for name, history in (("history", reference.history),
                          ("prior_history", reference.prior.history)):
        curves = pd.read_csv(tmp_path / "gen" / f"{name}.csv")
        assert curves.columns.tolist() == ["step", "train_loss", "val_loss"]
        assert curves["step"].tolist() == [10, 20, 25]
        assert curves.to_dict("records") == history
