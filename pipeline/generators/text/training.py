"""Fit a prefix mapping (and optionally its LM) on captions with Lightning, teacher-forced."""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, TensorDataset

from pipeline.generators.latents import noisy_unit
from pipeline.generators.text.decoding import caption_loss
from pipeline.generators.text.language_models import LanguageModel
from pipeline.generators.text.mapping import PrefixMapping
from pipeline.lightning_runs import quiet_trainer

logger = logging.getLogger(__name__)

warnings.filterwarnings("ignore", ".*defined a `validation_step` but have no `val_dataloader`.*")


def caption_dataset(mapping: PrefixMapping, lm: LanguageModel, captions: list[str],
                    latents: np.ndarray) -> TensorDataset:
    """Conditioned latents (N, D), caption ids (N, L) right-padded, and their mask (N, L)."""
    rows = lm.encode(captions) if captions else []
    length = max((len(row) for row in rows), default=1)
    ids = torch.full((len(rows), length), lm.pad_id, dtype=torch.long)  # (N, L)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row)
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)  # (N,)
    mask = torch.arange(length)[None] < lengths[:, None]  # (N, L)
    conditioned = mapping.condition(torch.from_numpy(np.asarray(latents, np.float32)))  # (N, D)
    return TensorDataset(conditioned, ids, mask)


class PrefixLitModule(pl.LightningModule):
    """Teacher-forced caption loss of ``mapping`` into ``lm``, with condition noise.

    Parameters
    ----------
    mapping : PrefixMapping
    lm : LanguageModel
        Trained only if ``finetune_lm``; otherwise frozen and kept in eval mode.
    lr, weight_decay : float
        AdamW settings.
    condition_noise : float
        Largest noise scale added to training latents
        (see :func:`pipeline.generators.latents.noisy_unit`).
    seed : int
        Seed of the noise stream.
    """

    def __init__(self, mapping: PrefixMapping, lm: LanguageModel, finetune_lm: bool, lr: float,
                 weight_decay: float, condition_noise: float, seed: int) -> None:
        super().__init__()
        self.mapping, self.lm_model, self.lm = mapping, lm.model, lm
        self.finetune_lm, self.lr, self.weight_decay = finetune_lm, lr, weight_decay
        self.condition_noise = condition_noise
        self.noise = torch.Generator().manual_seed(seed)
        self.lm_model.requires_grad_(finetune_lm)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Copies of the weights being fitted (the mapping's, and the LM's when fine-tuned)."""
        modules = {"mapping": self.mapping,
                   **({"lm_model": self.lm_model} if self.finetune_lm else {})}  # attribute names
        return {f"{name}.{key}": value.detach().clone()
                for name, module in modules.items() for key, value in module.state_dict().items()}

    def on_train_epoch_start(self) -> None:
        if not self.finetune_lm:
            self.lm_model.eval()  # frozen: no dropout

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        latents, ids, mask = batch  # (B, D), (B, L), (B, L)
        noisy = noisy_unit(latents.cpu(), self.condition_noise, self.noise).to(latents.device)
        loss = caption_loss(self.mapping, self.lm, noisy, ids, mask)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(ids))
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        latents, ids, mask = batch
        loss = caption_loss(self.mapping, self.lm, latents, ids, mask)
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(ids))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [param for param in self.parameters() if param.requires_grad]
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)


class KeepBest(Callback):
    """Keep the trainable weights of the epoch of lowest validation loss; log every epoch.

    Without validation batches only the logging happens (``state`` stays None).
    """

    def __init__(self) -> None:
        self.best, self.epoch, self.state = math.inf, -1, None

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: PrefixLitModule) -> None:
        val = float(trainer.callback_metrics["val_loss"])
        if math.isfinite(val) and val < self.best:
            self.best, self.epoch, self.state = val, trainer.current_epoch, module.trainable_state()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: PrefixLitModule) -> None:
        metrics = trainer.callback_metrics  # the epoch's train loss is reduced by now
        log_epoch(trainer.current_epoch, float(metrics["train_loss"]),
                  float(metrics.get("val_loss", math.nan)))


@rank_zero_only
def log_epoch(epoch: int, train_loss: float, val_loss: float) -> None:
    """One line per epoch."""
    logger.info("prefix_lm epoch %d: train loss %.4f, val loss %.4f", epoch, train_loss, val_loss)


def fit_prefix(module: PrefixLitModule, train: TensorDataset, val: TensorDataset,
               epochs: int, patience: int, batch_size: int, seed: int) -> None:
    """Train ``module`` in place, then load the weights of its best validation epoch.

    Without validation captions the last epoch is kept.

    Parameters
    ----------
    module : PrefixLitModule
    train, val : TensorDataset
        From :func:`caption_dataset`; ``val`` selects the epoch and stops early.
    epochs, patience, batch_size, seed : int
        At most ``epochs`` epochs, stopping after ``patience`` epochs without improvement;
        batches shuffled by ``seed``.
    """
    keep = KeepBest()
    has_val = len(val) > 0
    callbacks = [keep, *([EarlyStopping(monitor="val_loss", patience=patience)] if has_val else [])]
    loader = DataLoader(train, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val, batch_size=max(batch_size, 64)) if has_val else None
    with tempfile.TemporaryDirectory(prefix="brainrecon-prefix-lm-") as root:
        trainer = quiet_trainer(Path(root), max_epochs=epochs, enable_checkpointing=False,
                                callbacks=callbacks, gradient_clip_val=1.0,
                                limit_val_batches=1.0 if has_val else 0)
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader)
    if keep.state is not None:
        unexpected = module.load_state_dict(keep.state, strict=False).unexpected_keys
        if unexpected:
            raise RuntimeError(f"prefix_lm: best-epoch weights {unexpected[:3]} fit no module")
        logger.info("prefix_lm: kept epoch %d (val loss %.4f)", keep.epoch, keep.best)
