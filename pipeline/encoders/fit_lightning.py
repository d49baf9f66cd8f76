"""Fit encoders by gradient descent with Lightning (``fit_method = "lightning"``)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from pipeline.config import TrainConfig
from pipeline.encoders import FITTERS
from pipeline.encoders.datamodule import EncoderData, EncoderDataModule
from pipeline.encoders.fitting import FitResult
from pipeline.encoders.lit_module import EncoderLitModule
from pipeline.encoders.model import ScaledEncoder
from pipeline.errors import DataError

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_top1", "temperature"]


def epoch_history(metrics_csv: Path) -> pd.DataFrame:
    """Merge the CSV logger's rows into one row per epoch (HISTORY_COLUMNS)."""
    metrics = pd.read_csv(metrics_csv)
    history = metrics.groupby("epoch", as_index=False).first()
    return history.reindex(columns=HISTORY_COLUMNS)


@FITTERS.register("lightning")
def fit_lightning(
    model: ScaledEncoder, data: EncoderData, cfg: TrainConfig, out_dir: Path
) -> FitResult:
    """Train ``model.encoder`` with :class:`EncoderLitModule`; keep the best validation epoch.

    Parameters
    ----------
    model : ScaledEncoder
        The encoder to train, with its target standardisation.
    data : EncoderData
        Train and validation trials (the test split is not read).
    cfg : TrainConfig
        Optimiser, loss, epochs, early stopping and hardware settings.
    out_dir : Path
        Receives the CSV logger's files under ``logs/``.

    Returns
    -------
    FitResult
        ``model`` with the weights of the epoch of lowest validation loss.

    Raises
    ------
    DataError
        If the validation loss was never finite.
    """
    lit = EncoderLitModule(model.encoder, cfg.loss, cfg.lr, cfg.weight_decay)
    logger = CSVLogger(save_dir=out_dir, name="logs", version="")
    with tempfile.TemporaryDirectory(prefix="brainrecon-checkpoints-") as checkpoint_dir:
        checkpoint = ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="best",
            monitor="val_loss",
            mode="min",
            save_top_k=1,
            save_weights_only=True,
        )
        trainer = pl.Trainer(
            max_epochs=cfg.max_epochs,
            accelerator=cfg.accelerator,
            devices=cfg.devices,
            precision=cfg.precision,
            deterministic="warn",
            logger=logger,
            callbacks=[checkpoint, EarlyStopping(monitor="val_loss", patience=cfg.patience)],
            enable_progress_bar=sys.stderr.isatty(),
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=1,
            default_root_dir=checkpoint_dir,
        )
        trainer.fit(lit, datamodule=EncoderDataModule(data, cfg.batch_size))
        if not checkpoint.best_model_path:
            raise DataError(
                f"{data.preprocessed.path}: validation loss was never finite; expected finite "
                "epochs and latents for the train and val trials"
            )
        best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    lit.load_state_dict(best["state_dict"])
    model = model.cpu()
    history = epoch_history(Path(logger.log_dir) / "metrics.csv")
    best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    return FitResult(
        model=model,
        history=history,
        best_epoch=best_epoch,
        val_loss=float(checkpoint.best_model_score),
        details={"temperature": lit.temperature, "epochs_run": int(trainer.current_epoch)},
    )
