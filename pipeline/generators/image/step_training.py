"""Step-based Lightning runs of the image generators' networks, selected on validation.

The diffusion generator and its prior train for a number of steps, each on a batch drawn
(with its noise) from one seeded ``torch.Generator``, with a validation loss every
``eval_every`` steps and the weights at the lowest one kept. As a Lightning run, one
"epoch" is the ``eval_every`` steps up to an evaluation (the last may be shorter); a
checkpoint is written after each, with the generator's state, so a resumed run draws the
batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from pipeline.errors import DataError
from pipeline.lightning_runs import (
    LAST,
    SOURCE,
    STATE_KEY,
    RunCheckpoints,
    checkpoint_directory,
    fingerprint,
    quiet_trainer,
    resume_path,
    rng_state,
    set_rng_state,
    tensor_bytes,
)

logger = logging.getLogger(__name__)

WARMUP = 50  # steps of linear learning-rate warm-up
CODE = (*sorted(Path(__file__).parent.glob("*.py")), SOURCE)  # what a run's fingerprint reads

Batch = Sequence[torch.Tensor]


def lr_factor(step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of the peak learning rate."""
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / max(steps - WARMUP, 1)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepBatches(IterableDataset):
    """The training batches of a run, drawn in order by one seeded generator.

    Each pass yields the batches up to the next evaluation, so that one pass is one
    Lightning epoch.

    Parameters
    ----------
    draw : callable
        ``draw(generator)`` -> one batch (its rows and noise, all drawn from ``generator``).
    steps, eval_every : int
        Training steps, and steps between evaluations (the last step is always one).
    seed : int
        Seeds the generator.
    """

    def __init__(self, draw: Callable[[torch.Generator], Batch], steps: int, eval_every: int,
                 seed: int) -> None:
        self.draw, self.steps, self.eval_every = draw, steps, eval_every
        self.generator = torch.Generator().manual_seed(seed)
        self.drawn = 0

    @property
    def periods(self) -> int:
        """Evaluations of the run (its Lightning epochs)."""
        return math.ceil(self.steps / self.eval_every)

    def __iter__(self) -> Iterator[Batch]:
        end = min(self.steps, (self.drawn // self.eval_every + 1) * self.eval_every)
        while self.drawn < end:
            self.drawn += 1
            yield self.draw(self.generator)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and the number of batches drawn."""
        return {"generator": self.generator.get_state(), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        self.generator.set_state(state["generator"])
        self.drawn = int(state["drawn"])


class StepRun(pl.LightningModule):
    """Train ``networks`` on :meth:`training_loss`; keep the weights of lowest validation loss.

    AdamW without weight decay, with the learning rate of :func:`lr_factor` at every step
    (gradients are clipped to norm 1 by the trainer). ``history`` gets one row per
    evaluation: step, train_loss (mean since the last one), val_loss. Checkpoints carry it,
    the kept weights, the batches' generator and the random states.

    Parameters
    ----------
    name : str
        What is trained (it starts the log lines).
    networks : dict of str to nn.Module
        The trained modules; the optimiser sees their parameters in this order.
    batches : StepBatches
        The training batches.
    val : sequence of torch.Tensor
        The validation set, with its fixed noise, as :meth:`validation_loss` reads it.
    lr : float
        Peak learning rate.
    """

    def __init__(self, name: str, networks: dict[str, nn.Module], batches: StepBatches,
                 val: Batch, lr: float) -> None:
        super().__init__()
        self.name, self.networks, self.batches, self.val, self.lr = (
            name, nn.ModuleDict(networks), batches, val, lr)
        self.fingerprint = ""
        self.history: list[dict[str, float]] = []
        self.best: tuple[float, dict[str, torch.Tensor] | None] = (math.inf, None)
        self._running: list[float] = []
        self._restored: dict[str, Any] = {}

    @abstractmethod
    def training_loss(self, batch: Batch) -> torch.Tensor:
        """The loss of one training batch (a scalar tensor)."""

    @abstractmethod
    def validation_loss(self, val: Batch) -> float:
        """The loss on the whole validation set."""

    def settings(self) -> dict[str, Any]:
        """What the run's fingerprint reads besides the code, data and initial weights."""
        return {"name": self.name, "lr": self.lr, "steps": self.batches.steps,
                "eval_every": self.batches.eval_every}

    def train_dataloader(self) -> DataLoader:
        # batch_size None: the batches come drawn; the loader's own generator leaves the
        # global random state alone
        return DataLoader(self.batches, batch_size=None, generator=torch.Generator())

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self.val], batch_size=None, generator=torch.Generator())

    def on_train_start(self) -> None:
        self.networks.train()  # Lightning keeps the modes it finds (a fitted prior is in eval)
        restored, self._restored = self._restored, {}
        if "rng" in restored:
            set_rng_state(restored["rng"])

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.training_loss(batch)
        self._running.append(loss.item())
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, step = self.validation_loss(batch), self.global_step
        self.history.append({"step": step, "train_loss": sum(self._running) / len(self._running),
                             "val_loss": loss})
        self._running = []
        logger.info("%s step %d/%d: train loss %.4f, val loss %.4f", self.name, step,
                    self.batches.steps, self.history[-1]["train_loss"], loss)
        if loss < self.best[0]:
            self.best = (loss, {key: value.clone()
                                for key, value in self.networks.state_dict().items()})

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[STATE_KEY] = {
            "fingerprint": self.fingerprint, "history": [dict(row) for row in self.history],
            "best": self.best, "batches": self.batches.state_dict(), "rng": rng_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._restored = dict(checkpoint[STATE_KEY])  # the random states: in on_train_start
        self.history = [dict(row) for row in self._restored["history"]]
        self.best = self._restored["best"]
        self.batches.load_state_dict(self._restored["batches"])

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(self.networks.parameters(), lr=self.lr, weight_decay=0.0)
        steps = self.batches.steps
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                     lambda step: lr_factor(step, steps))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def run_checkpoints(directory: str | Path | None, run: StepRun,
                    data: Sequence[torch.Tensor]) -> RunCheckpoints | None:
    """The checkpoints of ``run`` in ``directory`` (None: none).

    The fingerprint reads the run's settings, the image generators' code, ``data`` and the
    initial weights of the networks (so their architecture and seed).
    """
    if directory is None:
        return None
    tensors = [*data, *run.networks.state_dict().values()]
    return RunCheckpoints(Path(directory), fingerprint(run.settings(), CODE, tensor_bytes(tensors)))


def fit_steps(run: StepRun, checkpoints: RunCheckpoints | None = None) -> list[dict[str, float]]:
    """Train ``run`` in place, then load its kept weights into its networks (in eval mode).

    With ``checkpoints``, a run killed part way resumes from its last evaluation when
    started again (same fingerprint); the checkpoints are left for the caller to remove
    (resuming a finished run only reads its outcome).

    Returns
    -------
    list of dict
        ``run.history``: step, train_loss, val_loss per evaluation.
    """
    run.fingerprint = checkpoints.fingerprint if checkpoints else ""
    with checkpoint_directory(checkpoints) as directory:
        last = ModelCheckpoint(dirpath=directory, filename=Path(LAST).stem, save_top_k=1,
                               enable_version_counter=False)  # after every evaluation
        trainer = quiet_trainer(directory, max_epochs=run.batches.periods, callbacks=[last],
                                gradient_clip_val=1.0, inference_mode=False)  # no_grad
        trainer.fit(run, ckpt_path=resume_path(checkpoints) if checkpoints else None)
    loss, state = run.best
    if state is None:
        raise DataError(f"{run.name}: the validation loss was never finite; expected finite "
                        "training and validation data")
    run.networks.load_state_dict(state)
    run.networks.eval()
    logger.info("%s: kept the weights with the lowest val loss (%.4f)", run.name, loss)
    return run.history
