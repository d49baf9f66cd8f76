"""Predict latents for held-out trials with a trained encoder (stage contract 5)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.artifacts import read_preprocessed
from pipeline.encoders.model import load_encoder
from pipeline.encoders.subjects import subject_indices
from pipeline.errors import DataError, ParamsError
from pipeline.io import write_json, write_tsv

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
BATCH_SIZE = 256


@torch.no_grad()
def predict_rows(
    model: nn.Module,
    epochs: np.ndarray,
    rows: np.ndarray,
    subject_index: np.ndarray,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """Run ``model`` in eval mode on the given rows of ``epochs``, batch by batch.

    Parameters
    ----------
    model : nn.Module
        ``model(x (B, C, T), subject (B,))`` -> (B, D).
    epochs : ndarray, shape (n_trials, C, T)
        May be memory-mapped; only ``rows`` are read.
    rows : ndarray of int, shape (N,)
        The trials to predict.
    subject_index : ndarray of int, shape (N,)
        The subject index of each of those trials.
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    ndarray, shape (N, D)
        float32 predictions.
    """
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        x = torch.from_numpy(np.asarray(epochs[batch], dtype=np.float32))  # (B, C, T)
        subject = torch.tensor(subject_index[start : start + batch_size])  # (B,)
        outputs.append(model(x, subject).float())  # (B, D)
    model.train(was_training)
    return torch.cat(outputs).numpy()


def predict_latents(
    model_dir: str | Path,
    preprocessed_dir: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = ("val", "test"),
) -> dict:
    """Predict the latents of the trials of ``splits`` in the original target space.

    Parameters
    ----------
    model_dir : str or Path
        A trained encoder (stage contract 4).
    preprocessed_dir : str or Path
        The preprocessed trials (stage contract 2), with the channels the model was trained on.
    out_dir : str or Path
        Receives ``predictions.npy`` (float32, [n_rows, dim]), ``trials.tsv`` (those rows
        of the preprocessed ``trials.tsv``, same order) and ``info.json`` (the returned
        summary, naming the encoder); created if missing.
    splits : sequence of str
        Which splits to predict.

    Returns
    -------
    dict
        Summary: encoder, splits, n_rows, dim, and ``unseen_subjects``: the subjects of
        those trials the model was not trained on (held out), predicted through the average
        of its subject layers (:mod:`pipeline.encoders.subjects`).

    Raises
    ------
    ParamsError
        If a split name is unknown.
    DataError
        If no trial is in ``splits``, or the channels or epoch length differ from the
        model's.
    """
    unknown = [split for split in splits if split not in SPLITS]
    if unknown or not splits:
        raise ParamsError(f"got splits {list(splits)}; expected some of {', '.join(SPLITS)}")
    model, config = load_encoder(model_dir)
    data = read_preprocessed(preprocessed_dir)
    info_path = data.path / "info.json"
    if list(data.info["ch_names"]) != config["ch_names"]:
        raise DataError(
            f"{info_path}: channels {data.info['ch_names'][:5]}... differ from the model's "
            f"{config['ch_names'][:5]}...; expected the channels it was trained on"
        )
    if data.epochs.shape[2] != config["signal"]["n_times"]:
        raise DataError(
            f"{data.path / 'epochs.npy'}: got {data.epochs.shape[2]} samples per epoch; "
            f"expected {config['signal']['n_times']}, as in training"
        )
    trials = data.trials
    rows = np.flatnonzero(trials["split"].isin(list(splits)).to_numpy())
    if not len(rows):
        raise DataError(
            f"{data.path / 'trials.tsv'}: no trial with split in {list(splits)}; found "
            f"{sorted(set(trials['split']))}"
        )
    unseen = sorted(set(trials["subject"].iloc[rows]) - set(config["subjects"]))
    if unseen:
        logger.info("subjects %s were not in training: predicted through the average of "
                    "the subject layers", ", ".join(unseen))
    subject_index = subject_indices(trials["subject"].iloc[rows], config["subjects"])
    predictions = predict_rows(model, data.epochs, rows, subject_index)  # (N, D)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "predictions.npy", predictions.astype(np.float32))
    write_tsv(trials.iloc[rows], out_dir / "trials.tsv")
    summary = {
        "encoder": config["encoder"],
        "splits": list(splits),
        "n_rows": int(len(rows)),
        "dim": int(predictions.shape[1]),
        "unseen_subjects": unseen,
        "source": data.info.get("source") or {},  # the data's licence, for figure credits
    }
    write_json(summary, out_dir / "info.json")
    logger.info("predicted %d trials (%s) x %d dims", len(rows), ", ".join(splits), summary["dim"])
    return summary
