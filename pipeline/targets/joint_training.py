"""The CLIP (InfoNCE) fit of the joint heads, a Lightning run with early stopping."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, Sampler, TensorDataset

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
from pipeline.targets.joint_heads import HeadsConfig, JointHeads, same_caption, top1

logger = logging.getLogger(__name__)

CODE = (Path(__file__), Path(__file__).with_name("joint_heads.py"), SOURCE)


class ShuffledBatches(Sampler[list[int]]):
    """Batches of a fresh permutation of ``range(n)`` every pass; batches of one are left out
    (InfoNCE needs a negative).

    Parameters
    ----------
    n, batch_size, seed : int
        Rows, rows per batch, and the seed of the permutations.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n // self.batch_size + (self.n % self.batch_size >= 2)

    def __iter__(self) -> Iterator[list[int]]:
        permutation = torch.randperm(self.n, generator=self.generator)  # drawn at the first batch
        for batch in permutation.split(self.batch_size):
            if len(batch) >= 2:
                yield batch.tolist()


class JointHeadsRun(pl.LightningModule):
    """Fit ``heads`` on the training pairs; keep the epoch of lowest validation loss.

    AdamW on every parameter (the temperature included). After each epoch the validation
    loss of all validation pairs is computed; the run stops once ``patience`` epochs have
    passed without a lower one. ``history`` gets a row per epoch (epoch from 1, train_loss,
    val_loss); checkpoints carry it, the kept weights, the permutations' generator, the
    random states (dropout) and whether the run had stopped.

    Parameters
    ----------
    heads : JointHeads
        With its input statistics set.
    train, val : tuple of torch.Tensor
        Image features (n, n_image), text features (n, n_text) and the identical-caption
        mask (n, n) of the training and validation pairs.
    cfg : HeadsConfig
    seed : int
        Seeds the order of the batches.
    """

    def __init__(self, heads: JointHeads, train: tuple[torch.Tensor, ...],
                 val: tuple[torch.Tensor, ...], cfg: HeadsConfig, seed: int) -> None:
        super().__init__()
        self.heads, self.train_pairs, self.val_pairs, self.cfg = heads, train, val, cfg
        self.batches = ShuffledBatches(len(train[0]), cfg.batch_size, seed)
        self.fingerprint = ""
        self.history: list[dict[str, float]] = []
        self.best = (math.inf, 0, {key: v.clone() for key, v in heads.state_dict().items()})
        self._train_losses: list[float] = []
        self._restored: dict[str, Any] = {}

    def train_dataloader(self) -> DataLoader:
        rows = TensorDataset(torch.arange(len(self.train_pairs[0])))
        return DataLoader(rows, batch_sampler=self.batches, generator=torch.Generator())

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self.val_pairs], batch_size=None, generator=torch.Generator())

    def on_train_start(self) -> None:
        restored, self._restored = self._restored, {}
        if "rng" in restored:
            set_rng_state(restored["rng"])
        if restored.get("should_stop"):
            self.trainer.should_stop = True  # early stopping had ended the run

    def on_train_epoch_start(self) -> None:
        self._train_losses = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        (rows,) = batch  # (B,) indices of training pairs
        image, text, same = self.train_pairs
        loss = self.heads.loss(image[rows], text[rows], same[rows][:, rows])
        self._train_losses.append(loss.item())
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        image, text, same = batch  # (n, n_image), (n, n_text), (n, n)
        val_loss, epoch = float(self.heads.loss(image, text, same)), self.current_epoch + 1
        losses = self._train_losses or [math.nan]
        self.history.append({"epoch": epoch, "train_loss": sum(losses) / len(losses),
                             "val_loss": val_loss})
        if val_loss < self.best[0]:
            self.best = (val_loss, epoch,
                         {key: v.clone() for key, v in self.heads.state_dict().items()})
        elif epoch - self.best[1] >= self.cfg.patience:
            self.trainer.should_stop = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[STATE_KEY] = {
            "fingerprint": self.fingerprint, "history": [dict(row) for row in self.history],
            "best": self.best, "generator": self.batches.generator.get_state(),
            "rng": rng_state(), "should_stop": bool(self.trainer.should_stop),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._restored = dict(checkpoint[STATE_KEY])  # random states, stop: in on_train_start
        self.history = [dict(row) for row in self._restored["history"]]
        self.best = self._restored["best"]
        self.batches.generator.set_state(self._restored["generator"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.heads.parameters(), lr=self.cfg.lr,
                                 weight_decay=self.cfg.weight_decay)


def fit_heads(image: np.ndarray, text: np.ndarray, captions: list[str], train: np.ndarray,
              val: np.ndarray, cfg: HeadsConfig, seed: int,
              checkpoint_dir: str | Path | None = None,
              ) -> tuple[JointHeads, dict, list[dict[str, float]]]:
    """Fit the heads on the training pairs; keep the epoch of lowest validation loss.

    Parameters
    ----------
    image, text : ndarray, shapes (n_stimuli, n_image) and (n_stimuli, n_text)
        Features of every stimulus; only the rows in ``train`` and ``val`` are read.
    captions : list of str
        The caption of every stimulus (identical captions are positives of each other).
    train, val : ndarray of int
        Row indices of the training pairs (fit) and validation pairs (early stopping).
    cfg : HeadsConfig
    seed : int
        Seeds the initial weights, dropout and the order of the batches.
    checkpoint_dir : str or Path, optional
        Keeps the run's checkpoints: a fit killed part way resumes from its last epoch
        when started again with the same settings, code and features; they are removed
        after a successful fit.

    Returns
    -------
    heads : JointHeads
        In eval mode, with the weights of the best validation epoch.
    info : dict
        best_epoch, epochs, val_loss, val_top1, temperature.
    history : list of dict
        epoch, train_loss, val_loss of every epoch run.
    """
    start = time.perf_counter()
    pick = {"train": train, "val": val}
    x = {name: torch.from_numpy(image[rows]).float() for name, rows in pick.items()}
    y = {name: torch.from_numpy(text[rows]).float() for name, rows in pick.items()}
    words = {name: [captions[i] for i in rows] for name, rows in pick.items()}
    pairs = {name: (x[name], y[name], same_caption(words[name])) for name in pick}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        heads = JointHeads(image.shape[1], text.shape[1], cfg)
        for side, features in (("image", x["train"]), ("text", y["train"])):
            getattr(heads, f"{side}_mean").copy_(features.mean(dim=0))
            getattr(heads, f"{side}_std").copy_(features.std(dim=0).clamp(min=1e-6))
        run = JointHeadsRun(heads, pairs["train"], pairs["val"], cfg, seed)
        checkpoints = None if checkpoint_dir is None else RunCheckpoints(
            Path(checkpoint_dir), fingerprint({"cfg": asdict(cfg), "seed": seed}, CODE,
                                              tensor_bytes([*pairs["train"], *pairs["val"]])))
        _fit(run, checkpoints)
    _, best_epoch, state = run.best
    heads.load_state_dict(state)
    heads.eval()
    info = {
        "best_epoch": best_epoch, "epochs": len(run.history), "val_loss": round(run.best[0], 6),
        "val_top1": top1(heads, x["val"], y["val"], words["val"]),
        "temperature": float(1.0 / heads.logit_scale.detach().clamp(max=math.log(100.0)).exp()),
    }  # no timing: it lands in the targets' info.json, the same bytes on every run
    logger.info("joint heads: best epoch %d of %d, val loss %.4f, val image->caption top-1 %.3f "
                "in %.1f s", info["best_epoch"], info["epochs"], info["val_loss"],
                info["val_top1"], time.perf_counter() - start)
    return heads, info, run.history


def _fit(run: JointHeadsRun, checkpoints: RunCheckpoints | None) -> None:
    """Run the fit, resuming from ``checkpoints`` when they hold this run's last epoch."""
    run.fingerprint = checkpoints.fingerprint if checkpoints else ""
    with checkpoint_directory(checkpoints) as directory:
        last = ModelCheckpoint(dirpath=directory, filename=Path(LAST).stem, save_top_k=1,
                               enable_version_counter=False)  # after every epoch
        trainer = quiet_trainer(directory, max_epochs=run.cfg.max_epochs, callbacks=[last],
                                inference_mode=False)  # validation under no_grad
        trainer.fit(run, ckpt_path=resume_path(checkpoints) if checkpoints else None)
    if checkpoints:
        shutil.rmtree(checkpoints.directory, ignore_errors=True)
