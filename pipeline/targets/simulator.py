"""The simulated study's own generating latents, as a target space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import require_file
from pipeline.targets.base import TARGETS
from pipeline.targets.options import TargetsConfig


@TARGETS.register("simulator")
def simulator_latents(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame) -> np.ndarray:
    """Return the simulator's latents (``stimuli_dir/latents.npy``), rows in ``stimuli`` order.

    Parameters
    ----------
    cfg : TargetsConfig
        Unused; every target takes the same arguments.
    stimuli_dir : Path
        The study's ``stimuli/`` folder.
    stimuli : DataFrame
        The rows of ``stimuli.tsv``.

    Returns
    -------
    ndarray, shape (n_stimuli, dim)
        float32 latents.

    Raises
    ------
    DataError
        If the file is missing, unreadable, not 2-D or has a row count other than the table's.
    """
    path = require_file(stimuli_dir / "latents.npy", "the simulator's latents [n_stimuli, dim]")
    try:
        latents = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    if latents.ndim != 2 or latents.shape[0] != len(stimuli):
        raise DataError(
            f"{path}: got shape {latents.shape}; expected ({len(stimuli)}, dim), one row per "
            f"row of {stimuli_dir / 'stimuli.tsv'}"
        )
    return latents.astype(np.float32)
