"""Audio stimuli for the speech targets: WAV files read as 16 kHz mono float waveforms.

A speech target reads the WAV file named in the ``audio`` column of the stimulus table
(relative to the stimuli folder; 8/16/24/32-bit PCM or float, averaged to mono, any rate)
and resamples it to ``pipeline.audio.RATE``. Targets that need optional packages (the
``speech`` extra) check for them with :func:`require` before loading anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.audio import read_wav
from pipeline.errors import DataError, ParamsError

logger = logging.getLogger(__name__)

LOG_EVERY = 100  # stimuli between progress lines
SPEECH_EXTRA = "pip install 'brainrecon[speech]'"


def audio_paths(stimuli_dir: Path, stimuli: pd.DataFrame, target: str) -> list[Path]:
    """Return the WAV path of each stimulus, checking the column and that every file exists.

    Parameters
    ----------
    stimuli_dir : Path
        The study's ``stimuli/`` folder; the paths in ``stimuli["audio"]`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv``.
    target : str
        The target's name, for the message.

    Raises
    ------
    DataError
        If the table has no ``audio`` column or a file is missing (the first five named).
    """
    if "audio" not in stimuli.columns:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: no column 'audio'; expected the path of each "
            f"stimulus' WAV file, relative to {stimuli_dir} (target {target!r} reads audio)"
        )
    paths = [stimuli_dir / str(name) for name in stimuli["audio"]]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: {len(missing)} audio file(s) not found "
            f"({', '.join(missing[:5])}); expected a WAV file for every stimulus (column "
            f"'audio', relative to {stimuli_dir})"
        )
    return paths


def waveform_batches(paths: list[Path], batch_size: int, target: str
                     ) -> Iterator[list[np.ndarray]]:
    """Yield the 16 kHz waveforms of consecutive batches of files, logging progress.

    Progress is logged every :data:`LOG_EVERY` stimuli and at the end, once the consumer
    has processed the batch.
    """
    for start in range(0, len(paths), batch_size):
        batch = paths[start:start + batch_size]
        yield [read_wav(path) for path in batch]
        done = start + len(batch)
        if done // LOG_EVERY > start // LOG_EVERY or done == len(paths):
            logger.info("targets %s: %d of %d stimuli", target, done, len(paths))


def pool_windows(frames: np.ndarray, windows: int) -> np.ndarray:
    """Average frames within ``windows`` equal spans of time, then flatten.

    Frame ``t`` covers the time ``[t, t + 1)`` (in frames); each window averages the frames
    it overlaps, weighted by the overlap, so no window is empty even with fewer frames
    than windows.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, dim)
        Features in time order (n_frames >= 1).
    windows : int
        The number of equal windows.

    Returns
    -------
    ndarray, shape (windows * dim,)
        Window 0's ``dim`` values, then window 1's, and so on.
    """
    edges = np.linspace(0.0, len(frames), windows + 1)
    starts = np.arange(len(frames))
    overlap = (np.minimum(starts + 1, edges[1:, None])
               - np.maximum(starts, edges[:-1, None])).clip(min=0.0)  # (windows, n_frames)
    weights = overlap / overlap.sum(axis=1, keepdims=True)
    return (weights @ frames).reshape(-1)  # (windows, dim) -> (windows * dim,)


def require(target: str, packages: dict[str, str]) -> None:
    """Raise a ParamsError naming the PyPI packages of ``packages`` (module: dist) missing.

    Raises
    ------
    ParamsError
        If a module cannot be found; the message names the package and the speech extra.
    """
    missing = [dist for module, dist in packages.items() if find_spec(module) is None]
    if missing:
        raise ParamsError(
            f"targets.name: target {target!r} needs the package(s) {', '.join(missing)}; "
            f"expected them installed ({SPEECH_EXTRA}) or another target"
        )
