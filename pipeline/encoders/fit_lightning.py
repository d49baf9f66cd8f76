"""Fit encoders by gradient descent with Lightning (``fit_method = "lightning"``)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from pipeline.encoders import FITTERS
from pipeline.encoders.batchnorm_sync import GlobalBatchNormSync
from pipeline.encoders.curves import CurvesCallback
from pipeline.encoders.datamodule import EncoderData, EncoderDataModule
from pipeline.encoders.fitting import FitResult
from pipeline.encoders.lit_module import EncoderLitModule
from pipeline.encoders.model import ScaledEncoder
from pipeline.encoders.options import TrainConfig
from pipeline.errors import DataError, ParamsError
from pipeline.lightning_runs import (
    BEST,
    LAST,
    STATE_KEY,
    RunCheckpoints,
    checkpoint_directory,
    quiet_trainer,
    resume_path,
)

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_top1"]  # then the loss terms' values


def make_trainer(cfg: TrainConfig, directory: Path, curves: Path | None = None) -> pl.Trainer:
    """A Trainer with the hardware of ``cfg`` that checkpoints into ``directory``.

    ``last.ckpt`` is written after every epoch (after early stopping and ``best.ckpt``
    have taken the epoch into account) and ``best.ckpt`` when the validation loss improves.
    With ``curves``, that CSV is rewritten after every validation epoch
    (:class:`~pipeline.encoders.curves.CurvesCallback`); there is no Lightning logger.
    Each process's sampler is built by :class:`EncoderDataModule`
    (``use_distributed_sampler=False``); batch norms see the global batch
    (:class:`GlobalBatchNormSync`, which unlike ``SyncBatchNorm`` runs on CPU).
    """
    best = ModelCheckpoint(dirpath=directory, filename=Path(BEST).stem, monitor="val_loss",
                           mode="min", save_top_k=1, enable_version_counter=False)
    last = ModelCheckpoint(dirpath=directory, filename=Path(LAST).stem, save_top_k=1,
                           enable_version_counter=False)  # every epoch, after ``best``
    hardware = {"accelerator": cfg.accelerator, "strategy": cfg.strategy, "devices": cfg.devices,
                "num_nodes": cfg.num_nodes, "precision": cfg.precision}
    callbacks = [EarlyStopping(monitor="val_loss", patience=cfg.patience), best, last]
    if curves is not None:
        callbacks.append(CurvesCallback(curves))
    try:
        return quiet_trainer(
            directory,
            **hardware,
            max_epochs=cfg.max_epochs,
            plugins=[GlobalBatchNormSync()] if cfg.sync_batchnorm else None,
            use_distributed_sampler=False,
            deterministic="warn",
            callbacks=callbacks,
        )
    except (ValueError, MisconfigurationException) as exc:  # Lightning's checks of the hardware
        message = " ".join(str(exc).split())
        raise ParamsError(f"train: {hardware} cannot run here: {message}") from None


def read_outcome(trainer: pl.Trainer, directory: Path) -> tuple[dict | None, list[dict]]:
    """The best weights (None if never saved) and the epoch history, on every process.

    The primary process reads them from its checkpoints and broadcasts them, so no other
    process needs to see its files (nodes without a shared file system).
    """
    outcome: tuple[dict[str, Any] | None, list[dict]] = (None, [])
    if trainer.is_global_zero and (directory / LAST).is_file():
        last = torch.load(directory / LAST, map_location="cpu", weights_only=True)
        best = directory / BEST
        state = (torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
                 if best.is_file() else None)
        outcome = (state, last[STATE_KEY]["history"])
    return trainer.strategy.broadcast(outcome)


@FITTERS.register("lightning")
def fit_lightning(
    model: ScaledEncoder,
    data: EncoderData,
    cfg: TrainConfig,
    out_dir: Path,
    checkpoints: RunCheckpoints | None = None,
    curves: Path | None = None,
) -> FitResult:
    """Train ``model.encoder`` with :class:`EncoderLitModule`; keep the best validation epoch.

    With ``checkpoints``, a run killed part way resumes from its last epoch when started
    again (same fingerprint), and the checkpoints are removed after a successful fit.
    Under DDP every process returns the same result.

    Parameters
    ----------
    model : ScaledEncoder
        The encoder to train, with its target standardisation.
    data : EncoderData
        Train and validation trials (the test split is not read).
    cfg : TrainConfig
        Optimiser, loss, epochs, early stopping and hardware settings.
    out_dir : Path
        Unused: the history is returned, and written by the caller.
    checkpoints : RunCheckpoints, optional
        Where to keep the checkpoints between runs; None keeps them in a temporary directory.
    curves : Path, optional
        A CSV of the training curves (``pipeline.encoders.curves``), rewritten after every
        validation epoch by the primary process, so it can be watched while training.

    Returns
    -------
    FitResult
        A copy of ``model`` with the weights of the epoch of lowest validation loss, then
        its ``finish_fit`` applied.

    Raises
    ------
    DataError
        If the validation loss was never finite.
    """
    prepared = model.encoder.prepare_fit(data)
    selected = copy.deepcopy(model)  # receives the best weights; untouched by any wrapping
    lit = EncoderLitModule(model.encoder, cfg.loss, cfg.lr, cfg.weight_decay,
                           fingerprint=checkpoints.fingerprint if checkpoints else "")
    with checkpoint_directory(checkpoints) as directory:
        resume = resume_path(checkpoints) if checkpoints else None
        trainer = make_trainer(cfg, directory, curves)
        trainer.fit(lit, datamodule=EncoderDataModule(data, cfg.batch_size, cfg.seed),
                    ckpt_path=resume)
        state, rows = read_outcome(trainer, directory)
        if checkpoints and trainer.is_global_zero:
            shutil.rmtree(directory, ignore_errors=True)
    if state is None:
        raise DataError(
            f"{data.preprocessed.path}: validation loss was never finite; expected finite "
            "epochs and latents for the train and val trials"
        )
    prefix = "encoder."
    selected.encoder.load_state_dict(
        {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    )
    finished = selected.encoder.finish_fit(data)
    history = pd.DataFrame(rows)
    extra_columns = [key for key in history.columns if key not in HISTORY_COLUMNS]
    history = history.reindex(columns=[*HISTORY_COLUMNS, *extra_columns])
    best = history.loc[history["val_loss"].idxmin()]
    extras = {key: float(best[key]) for key in extra_columns}
    return FitResult(
        model=selected.cpu(),
        history=history,
        best_epoch=int(best["epoch"]),
        val_loss=float(best["val_loss"]),
        details={**extras, "epochs_run": len(history), **prepared, **finished},
    )
