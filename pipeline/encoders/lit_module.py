"""The LightningModule that trains an encoder on a weighted sum of registered losses."""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_only
from torch import nn
from torch.distributed._functional_collectives import all_gather_single

from pipeline.encoders.losses import WeightedLoss, retrieval_ranks
from pipeline.encoders.options import LossConfig
from pipeline.lightning_runs import STATE_KEY, rng_state, set_rng_state

logger = logging.getLogger(__name__)


@rank_zero_only
def log_epoch(row: dict[str, float]) -> None:
    """Log one line per epoch (rank zero only)."""
    logger.info(
        "epoch %d: train loss %.4f, val loss %.4f, val top-1 %.3f",
        row["epoch"], row["train_loss"], row["val_loss"], row["val_top1"],
    )


class EncoderLitModule(pl.LightningModule):
    """Train ``encoder`` to predict standardised target latents.

    The loss is :class:`~pipeline.encoders.losses.WeightedLoss` (its learnable
    temperatures and biases are trained without weight decay). Predictions and targets
    are gathered across processes before the loss, so the negatives of the contrastive
    terms are those of the global batch whatever the number of processes. Validation
    scores the whole validation set at once on every process (no gather, so no padded
    duplicates): loss, and top-1 retrieval among the validation stimuli.

    Every epoch appends a row to ``history``; checkpoints carry it, the run's
    ``fingerprint`` and the random states of every process, so a resumed run continues
    exactly where the checkpoint was taken.

    Parameters
    ----------
    encoder : nn.Module
        ``encoder(x (B, C, T), subject (B,))`` -> (B, D).
    loss : LossConfig
        Loss weights and initial temperature and bias.
    lr, weight_decay : float
        AdamW settings, applied to the parameters that require gradients (a frozen
        pretrained backbone is left out).
    fingerprint : str
        Identifies the run in its checkpoints (see :mod:`pipeline.lightning_runs`).
    """

    def __init__(self, encoder: nn.Module, loss: LossConfig, lr: float, weight_decay: float,
                 fingerprint: str = "") -> None:
        super().__init__()
        self.encoder = encoder
        self.criterion = WeightedLoss(loss)
        self.lr = lr
        self.weight_decay = weight_decay
        self.fingerprint = fingerprint
        self.history: list[dict[str, float]] = []
        self._train_losses: list[torch.Tensor] = []
        self._val_batches: list[tuple[torch.Tensor, ...]] = []
        self._restored: dict[str, Any] = {}

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """(B, C, T), (B,) -> (B, D) standardised latents."""
        return self.encoder(x, subject)

    def loss(
        self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
    ) -> torch.Tensor:
        """The weighted loss of predictions (N, D) against targets (N, D)."""
        return self.criterion(pred, target, stimulus)

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate ``tensor`` (N, ...) over processes, in rank order (identity in one).

        Gradients flow back to each process's rows (summed over the processes, which all
        compute the same loss; DDP's mean of the gradients then gives the global one).
        """
        if self.trainer.world_size == 1:
            return tensor
        return all_gather_single(tensor.contiguous(), 0, dist.group.WORLD)

    def on_train_start(self) -> None:
        restored, self._restored = self._restored, {}
        if "rng" in restored:
            states = restored["rng"]
            if len(states) == self.trainer.world_size:
                set_rng_state(states[self.global_rank])
            else:
                logger.warning("resuming %d processes' random states on %d processes: the "
                               "random draws differ from an uninterrupted run",
                               len(states), self.trainer.world_size)
        if restored.get("should_stop"):
            self.trainer.should_stop = True  # early stopping had ended the run

    def on_train_epoch_start(self) -> None:
        self._train_losses = []

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, subject, target, stimulus = batch  # (B, C, T), (B,), (B, D), (B,)
        pred = self(x, subject)  # (B, D)
        loss = self.loss(self._gather(pred), self._gather(target), self._gather(stimulus))
        self._train_losses.append(loss.detach())
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_batches = []

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, subject, target, stimulus = batch  # (B, C, T), (B,), (B, D), (B,)
        self._val_batches.append((self(x, subject).float(), target, stimulus))

    def on_validation_epoch_end(self) -> None:
        pred, target, stimulus = (
            torch.cat(parts) for parts in zip(*self._val_batches, strict=True)
        )  # (N, D), (N, D), (N,): the whole validation set, on every process
        train_losses = self._train_losses or [torch.tensor(math.nan)]
        scores = {
            "train_loss": float(torch.stack(train_losses).mean()),
            "val_loss": float(self.loss(pred, target, stimulus)),
            "val_top1": float((retrieval_ranks(pred, target, stimulus) == 0).float().mean()),
            **self.criterion.report(),
        }
        self.history.append({"epoch": self.current_epoch, **scores})
        self.log_dict(scores, sync_dist=True)
        log_epoch(self.history[-1])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = [None] * self.trainer.world_size
        if self.trainer.world_size > 1 and dist.is_initialized():
            dist.all_gather_object(states, rng_state())
        else:
            states = [rng_state()]
        checkpoint[STATE_KEY] = {
            "fingerprint": self.fingerprint,
            "history": [dict(row) for row in self.history],
            "rng": states,
            "should_stop": bool(self.trainer.should_stop),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._restored = dict(checkpoint.get(STATE_KEY, {}))  # applied in on_train_start
        self.history = [dict(row) for row in self._restored.get("history", [])]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = [
            {"params": [p for p in self.encoder.parameters() if p.requires_grad],
             "weight_decay": self.weight_decay},
            {"params": [p for p in self.criterion.parameters() if p.requires_grad],
             "weight_decay": 0.0},
        ]
        return torch.optim.AdamW([group for group in groups if group["params"]], lr=self.lr)
