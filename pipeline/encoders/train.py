"""Fit an encoder on train trials, select it on validation trials, save it (contract 4)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from pipeline.distributed import is_primary_process
from pipeline.encoders import ENCODERS, FITTERS
from pipeline.encoders.base import signal_args
from pipeline.encoders.checkpoints import run_checkpoints
from pipeline.encoders.curves import closed_form_curves, curve_table, plot_curves, write_curves
from pipeline.encoders.datamodule import load_encoder_data
from pipeline.encoders.losses import retrieval_ranks
from pipeline.encoders.model import ScaledEncoder, save_model
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_rows
from pipeline.encoders.pretrained import load_pretrained
from pipeline.io import write_json
from pipeline.provenance import credit_line

logger = logging.getLogger(__name__)


def fit_encoder(
    encoder: str,
    options: dict[str, Any],
    cfg: TrainConfig,
    preprocessed_dir: str | Path,
    targets_dir: str | Path,
    out_dir: str | Path,
    pretrained_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    curves: str | Path | None = None,
    curves_plot: str | Path | None = None,
) -> dict:
    """Fit the encoder named ``encoder`` and write its model directory.

    The encoder is trained on the ``train`` trials and selected (early stopping, best
    epoch, regularisation) on the ``val`` trials only; ``test`` trials are never read.
    Targets are standardised with the training stimuli's mean and standard deviation.

    Parameters
    ----------
    encoder : str
        A name registered in ``ENCODERS``; its ``fit_method`` picks the fitter.
    options : dict
        The encoder's options (see its ``Options``).
    cfg : TrainConfig
        Seed, loss, optimiser, epochs, hardware.
    preprocessed_dir : str or Path
        Stage contract 2.
    targets_dir : str or Path
        Stage contract 3.
    out_dir : str or Path
        Receives ``model.safetensors``, ``config.json``, ``history.csv`` and ``train.json``;
        created if missing.
    pretrained_dir : str or Path, optional
        The pretrain stage's output; read only when ``cfg.init`` is ``pretrained``.
    checkpoint_dir : str or Path, optional
        Keeps the checkpoints of a Lightning fit between runs: a run killed part way
        resumes from its last epoch when started again with the same params, code and
        inputs (see :mod:`pipeline.encoders.checkpoints`).
    curves : str or Path, optional
        A CSV of the training curves, one row per epoch: ``epoch``, ``train_loss``,
        ``val_loss``, ``val_top1`` (a DVC plots file). A Lightning fit rewrites it after
        every epoch; a closed-form fit writes one row, epoch 0, with its validation top-1
        and no losses (see :mod:`pipeline.encoders.curves`).
    curves_plot : str or Path, optional
        A PNG of the same curves, drawn after the fit.

    Returns
    -------
    dict
        The ``train.json`` summary.

    Raises
    ------
    ValueError
        If ``encoder`` is not registered (the message lists the encoders).
    ParamsError
        If an option is unknown or invalid, or ``cfg.init`` is ``pretrained`` for another
        encoder than the patch transformer or after pretrain method ``none``.
    DataError
        If the inputs are missing or inconsistent, or the pretrained weights do not fit.
    """
    cls = ENCODERS.get(encoder)
    parsed = cls.parse_options(options).model_dump()
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    pl.seed_everything(cfg.seed, workers=True)
    data = load_encoder_data(preprocessed_dir, targets_dir)
    info = data.preprocessed.info
    epochs = data.preprocessed.epochs
    signal = signal_args(
        n_chans=epochs.shape[1],
        n_times=epochs.shape[2],
        sfreq=info["sfreq"],
        n_outputs=data.target.shape[1],
        n_subjects=len(data.subjects),
        chs_pos=info["ch_pos"],
    )
    model = ScaledEncoder(
        cls(**signal, **parsed),
        data.target_mean,
        data.target_std,
        data.target_rms,
        rescale=cfg.rescale_predictions,
    )
    init = {"init": "scratch"}
    if cfg.init == "pretrained":
        init = load_pretrained(
            model.encoder, encoder, parsed, pretrained_dir, cfg.freeze_pretrained
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    logger.info(
        "fitting %s (%s) on %d train trials, selecting on %d val trials",
        encoder, cls.fit_method, len(data.rows("train")), len(data.rows("val")),
    )
    start = time.perf_counter()
    checkpoints = None if checkpoint_dir is None else run_checkpoints(
        checkpoint_dir, encoder, parsed, cfg,
        [path for path in (preprocessed_dir, targets_dir, pretrained_dir) if path is not None],
    )
    result = FITTERS.get(cls.fit_method)(
        model, data, cfg, out_dir, checkpoints=checkpoints,
        curves=None if curves is None else Path(curves),
    )
    fit_seconds = time.perf_counter() - start

    val_rows = data.rows("val")
    val_pred = predict_rows(result.model.encoder, epochs, val_rows, data.subject_index[val_rows])
    val_ranks = retrieval_ranks(
        torch.from_numpy(val_pred),
        torch.from_numpy(data.target[data.stimulus_index[val_rows]]),
        torch.from_numpy(data.stimulus_index[val_rows]),
    )
    config = {
        "encoder": encoder,
        "options": parsed,
        "fit_method": cls.fit_method,
        "signal": signal,
        "ch_names": list(info["ch_names"]),
        "tmin": info.get("tmin"),
        "subjects": data.subjects,
        "target": {"name": data.target_info.get("name"), "dim": int(data.target.shape[1])},
        "rescale_predictions": cfg.rescale_predictions,
        "train": cfg.model_dump(mode="json"),
    }
    save_model(result.model, config, out_dir)
    result.history.to_csv(out_dir / "history.csv", index=False)
    summary = {
        "encoder": encoder,
        "fit_method": cls.fit_method,
        "best_epoch": result.best_epoch,
        "val_loss": result.val_loss,
        "val_top1": float((val_ranks == 0).double().mean()),
        "val_chance_top1": 1.0 / len(np.unique(data.stimulus_index[val_rows])),
        "n_params": sum(p.numel() for p in result.model.encoder.parameters()),
        "n_train_trials": int(len(data.rows("train"))),
        "n_val_trials": int(len(val_rows)),
        "n_subjects": len(data.subjects),
        **init,
        **result.details,
    }
    write_json(summary, out_dir / "train.json")  # no timing: outputs are byte-identical
    if is_primary_process() and (curves is not None or curves_plot is not None):
        table = (closed_form_curves(summary["val_top1"]) if result.best_epoch is None
                 else curve_table(result.history))
        if curves is not None:
            write_curves(table, curves)
        if curves_plot is not None:
            plot_curves(table, curves_plot, f"{encoder} ({cls.fit_method}): training curves",
                        chance=summary["val_chance_top1"], best_epoch=result.best_epoch,
                        credit=credit_line(info.get("source") or {}))
    logger.info(
        "%s: val top-1 %.3f (chance %.3f) in %.1f s",
        encoder, summary["val_top1"], summary["val_chance_top1"], fit_seconds,
    )
    return {**summary, "fit_seconds": round(fit_seconds, 3)}
