"""Run one pretraining phase with Lightning: CSV logs, no checkpoints, no progress bar off a TTY."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

import pipeline.encoders.lit_module  # noqa: F401  (quiets Lightning's logs and warnings)
from pipeline.pretrain.options import PretrainConfig

# The codebook method's tokenizer stays in eval mode on purpose while the backbone trains.
warnings.filterwarnings("ignore", r".*module\(s\) in eval mode.*")


def fit_phase(
    lit: pl.LightningModule,
    loader: DataLoader,
    epochs: int,
    cfg: PretrainConfig,
    log_dir: Path,
    phase: str,
) -> pd.DataFrame:
    """Train ``lit`` for ``epochs`` epochs on ``loader`` (no validation loop).

    Parameters
    ----------
    lit : LightningModule
        Logs its epoch metrics with ``self.log``.
    loader : DataLoader
        The unlabeled training batches.
    epochs : int
        Epochs to run (pretraining has no early stopping).
    cfg : PretrainConfig
        Accelerator.
    log_dir : Path
        The CSV logger writes ``<log_dir>/<phase>/metrics.csv``.
    phase : str
        Name of the phase (a column of the returned history).

    Returns
    -------
    DataFrame
        One row per epoch: ``phase``, ``epoch`` and the logged metrics.
    """
    logger = CSVLogger(save_dir=log_dir, name=phase, version="")
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=cfg.accelerator,
        devices=1,
        deterministic="warn",
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=log_dir,
    )
    trainer.fit(lit, train_dataloaders=loader)
    lit.cpu()
    metrics = pd.read_csv(Path(logger.log_dir) / "metrics.csv")
    history = metrics.groupby("epoch", as_index=False).first().drop(columns="step")
    return history.assign(phase=phase)[["phase", *history.columns]]
