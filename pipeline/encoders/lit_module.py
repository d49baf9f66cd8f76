"""The LightningModule that trains an encoder: CLIP-style contrastive + MSE losses."""

from __future__ import annotations

import logging
import math
import warnings

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch import nn

from pipeline.config import LossConfig
from pipeline.encoders.losses import clip_loss, retrieval_ranks

logger = logging.getLogger(__name__)

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", ".*does not have many workers.*", category=PossibleUserWarning)
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\).*", category=FutureWarning)

MAX_LOGIT_SCALE = math.log(100.0)


@rank_zero_only
def log_epoch(epoch: int, train_loss: float, val_loss: float, val_top1: float) -> None:
    """Log one line per epoch (rank zero only)."""
    logger.info(
        "epoch %d: train loss %.4f, val loss %.4f, val top-1 %.3f",
        epoch, train_loss, val_loss, val_top1,
    )


class EncoderLitModule(pl.LightningModule):
    """Train ``encoder`` to predict standardised target latents.

    Loss = ``loss.clip`` * symmetric InfoNCE (cosine, learnable temperature initialised at
    ``loss.temperature``) + ``loss.mse`` * MSE. Predictions and targets are gathered
    across ranks before the loss, so the negatives do not depend on the number of devices.
    Validation scores the whole validation set at once: loss, and top-1 retrieval among
    the validation stimuli.

    Parameters
    ----------
    encoder : nn.Module
        ``encoder(x (B, C, T), subject (B,))`` -> (B, D).
    loss : LossConfig
        Loss weights and initial temperature.
    lr, weight_decay : float
        AdamW settings (no weight decay on the temperature).
    """

    def __init__(self, encoder: nn.Module, loss: LossConfig, lr: float, weight_decay: float):
        super().__init__()
        self.encoder = encoder
        self.loss_cfg = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / loss.temperature)))
        self._train_losses: list[torch.Tensor] = []
        self._val_batches: list[tuple[torch.Tensor, ...]] = []
        self._val_scores: dict[str, float] = {}

    @property
    def temperature(self) -> float:
        """The current contrastive temperature."""
        return float(torch.exp(-self.logit_scale.detach().clamp(max=MAX_LOGIT_SCALE)))

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """(B, C, T), (B,) -> (B, D) standardised latents."""
        return self.encoder(x, subject)

    def loss(
        self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
    ) -> torch.Tensor:
        """Weighted CLIP + MSE loss of predictions (N, D) against targets (N, D)."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE)
        return self.loss_cfg.clip * clip_loss(pred, target, stimulus, scale) + (
            self.loss_cfg.mse * F.mse_loss(pred, target)
        )

    def _gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """Concatenate ``tensor`` (N, ...) over ranks (identity on one device)."""
        if self.trainer.world_size == 1:
            return tensor
        return self.all_gather(tensor, sync_grads=sync_grads).flatten(0, 1)

    def on_train_epoch_start(self) -> None:
        self._train_losses = []

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, subject, target, stimulus = batch  # (B, C, T), (B,), (B, D), (B,)
        pred = self(x, subject)  # (B, D)
        loss = self.loss(
            self._gather(pred, sync_grads=True), self._gather(target), self._gather(stimulus)
        )
        self._train_losses.append(loss.detach())
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_batches = []

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, subject, target, stimulus = batch  # (B, C, T), (B,), (B, D), (B,)
        self._val_batches.append((self(x, subject).float(), target, stimulus))

    def on_validation_epoch_end(self) -> None:
        pred, target, stimulus = (
            self._gather(torch.cat(parts)) for parts in zip(*self._val_batches, strict=True)
        )  # (N, D), (N, D), (N,)
        self._val_scores = {
            "val_loss": float(self.loss(pred, target, stimulus)),
            "val_top1": float((retrieval_ranks(pred, target, stimulus) == 0).float().mean()),
        }
        self.log_dict(self._val_scores, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        train_loss = float(torch.stack(self._train_losses).mean())
        self.log_dict({"train_loss": train_loss, "temperature": self.temperature}, sync_dist=True)
        log_epoch(
            self.current_epoch,
            train_loss,
            self._val_scores.get("val_loss", float("nan")),
            self._val_scores.get("val_top1", float("nan")),
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            [
                {"params": self.encoder.parameters(), "weight_decay": self.weight_decay},
                {"params": [self.logit_scale], "weight_decay": 0.0},
            ],
            lr=self.lr,
        )
