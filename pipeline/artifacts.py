"""Readers of the artifacts stages hand each other (docs/stages.md, "Contracts between stages").

Each reader checks what the next stage relies on and raises a one-line DataError naming the
file, what was found and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import read_json, read_tsv, require_file

TRIAL_COLUMNS = ("subject", "stimulus_id", "split")
FIT_SPLITS = ("train", "val")  # the splits of trials.tsv that fitters read; never test
STIMULUS_COLUMNS = ("stimulus_id", "split")
LABEL_DTYPES = {"subject": str, "stimulus_id": str, "split": str}


def read_rows(
    directory: Path, array_name: str, table_name: str, required: tuple[str, ...], what: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Open an ``.npy`` array (memory-mapped) and the table describing its rows.

    Parameters
    ----------
    directory : Path
        The artifact directory.
    array_name, table_name : str
        File names of the array and of its TSV row table.
    required : tuple of str
        Columns the table must have.
    what : str
        What the array holds, with its expected shape, for error messages.

    Returns
    -------
    array : ndarray, memory-mapped
    table : DataFrame
        Label columns read as strings.

    Raises
    ------
    DataError
        If a file is missing, or the array's first axis does not match the table's rows.
    """
    array_path = require_file(directory / array_name, what)
    array = np.load(array_path, mmap_mode="r")
    table = read_tsv(directory / table_name, required=required)
    table = table.astype({key: value for key, value in LABEL_DTYPES.items() if key in table})
    if array.ndim < 2 or array.shape[0] != len(table):
        raise DataError(
            f"{array_path}: got shape {array.shape}; expected {what} with one row per row "
            f"of {directory / table_name} ({len(table)})"
        )
    return array, table


@dataclass(frozen=True)
class Preprocessed:
    """A preprocessed dataset (stage contract 2); ``epochs`` is memory-mapped.

    For fMRI (``betas.npy`` [trial, voxel]) ``epochs`` is the betas viewed as
    ``(n_trials, n_voxels, 1)``: every voxel a channel, one time point.
    """

    epochs: np.ndarray  # (n_trials, n_chans, n_times)
    trials: pd.DataFrame
    info: dict[str, Any]
    path: Path


def _read_signal(path: Path) -> tuple[np.ndarray, pd.DataFrame, str]:
    """Open ``betas.npy`` (fMRI, viewed as [trial, voxel, 1]) or ``epochs.npy``, and the trials.

    Returns the (trial, channel, time) array, the trials table and the array's file name.
    """
    if (path / "betas.npy").is_file():
        betas, trials = read_rows(
            path, "betas.npy", "trials.tsv", TRIAL_COLUMNS, "betas [trial, voxel]"
        )
        if betas.ndim != 2:
            raise DataError(
                f"{path / 'betas.npy'}: got shape {betas.shape}; expected (trial, voxel)"
            )
        return betas[:, :, None], trials, "betas.npy"  # (n_trials, n_voxels, 1), still a memmap
    epochs, trials = read_rows(
        path, "epochs.npy", "trials.tsv", TRIAL_COLUMNS, "epochs [trial, channel, time]"
    )
    return epochs, trials, "epochs.npy"


def read_preprocessed(preprocessed_dir: str | Path) -> Preprocessed:
    """Open ``epochs.npy`` or ``betas.npy`` (memory-mapped), ``trials.tsv`` and ``info.json``.

    Raises
    ------
    DataError
        If a file is missing, or the shapes, channel names and positions disagree.
    """
    path = Path(preprocessed_dir)
    epochs, trials, name = _read_signal(path)
    info = read_json(path / "info.json")
    missing = [key for key in ("sfreq", "ch_names", "ch_pos") if key not in info]
    if missing:
        raise DataError(f"{path / 'info.json'}: missing key(s) {', '.join(missing)}")
    if epochs.ndim != 3:
        raise DataError(
            f"{path / name}: got shape {epochs.shape}; expected (trial, channel, time)"
        )
    if len(info["ch_names"]) != epochs.shape[1]:
        raise DataError(
            f"{path / 'info.json'}: got {len(info['ch_names'])} ch_names; expected "
            f"{epochs.shape[1]}, the channels of {path / name}"
        )
    if info["ch_pos"] is not None:  # null: recordings without positions
        positions = np.asarray(info["ch_pos"], dtype=np.float64)
        if positions.shape != (epochs.shape[1], 3) or not np.isfinite(positions).all():
            raise DataError(
                f"{path / 'info.json'}: ch_pos has shape {positions.shape} "
                f"(finite: {bool(np.isfinite(positions).all())}); expected "
                f"({epochs.shape[1]}, 3), finite, in metres, or null (no positions)"
            )
    return Preprocessed(epochs=epochs, trials=trials, info=info, path=path)


def read_targets(targets_dir: str | Path) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Read ``latents.npy`` (n_stimuli, dim), ``stimuli.tsv`` and ``info.json`` (contract 3).

    Returns
    -------
    latents : ndarray of float32, shape (n_stimuli, dim)
    stimuli : DataFrame
        One row per latent row (stimulus_id, split, ...).
    info : dict
        At least ``name``, the target latent space.

    Raises
    ------
    DataError
        If a file is missing, the latents are not finite, or ``info.json`` has no name.
    """
    path = Path(targets_dir)
    latents, stimuli = read_rows(
        path, "latents.npy", "stimuli.tsv", STIMULUS_COLUMNS, "target latents [n_stimuli, dim]"
    )
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 2 or not np.isfinite(latents).all():
        raise DataError(
            f"{path / 'latents.npy'}: got shape {latents.shape} (finite: "
            f"{bool(np.isfinite(latents).all())}); expected (n_stimuli, dim), finite"
        )
    info = read_json(path / "info.json")
    if "name" not in info:
        raise DataError(f"{path / 'info.json'}: no 'name' key; expected the target space's name")
    return latents, stimuli, info


def read_predictions(predictions_dir: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Read ``predictions.npy`` (n_rows, dim) and its ``trials.tsv`` (stage contract 5).

    Raises
    ------
    DataError
        If a file is missing or the row counts differ.
    """
    return read_rows(
        Path(predictions_dir), "predictions.npy", "trials.tsv", TRIAL_COLUMNS,
        "predicted latents [n_rows, dim]",
    )
