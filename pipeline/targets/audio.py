"""Audio stimuli for the speech targets: WAV files read as 16 kHz mono float waveforms.

A speech target reads the WAV file named in the ``audio`` column of the stimulus table
(relative to the stimuli folder; 8/16/24/32-bit PCM or float, averaged to mono, any rate)
and resamples it to ``RATE``. Targets that need optional packages (the ``speech`` extra)
check for them with :func:`require` before loading anything.
"""

from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import wavfile

from pipeline.audio import resample
from pipeline.errors import DataError, ParamsError

logger = logging.getLogger(__name__)

RATE = 16_000  # Hz, the rate every target works at
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


def read_wav(path: Path) -> np.ndarray:
    """Read a WAV file as a float32 mono waveform at 16 kHz.

    Integer samples are scaled to [-1, 1), channels are averaged, and other rates are
    resampled with a polyphase filter (``scipy.signal.resample_poly``).

    Returns
    -------
    ndarray, shape (n_samples,)
        float32 samples at :data:`RATE`.

    Raises
    ------
    DataError
        If the file is not a readable WAV file or holds no samples.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # unknown chunks
            rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError, struct.error) as exc:
        raise DataError(
            f"{path}: not a readable WAV file ({exc}); expected PCM or float WAV audio"
        ) from None
    if data.size == 0:
        raise DataError(f"{path}: the WAV file holds no samples; expected a stimulus' audio")
    waveform = to_float(data)
    if waveform.ndim == 2:
        waveform = waveform.mean(axis=1)  # (n_samples, channels) -> (n_samples,)
    return resample(waveform, rate, RATE)


def to_float(data: np.ndarray) -> np.ndarray:
    """Return WAV samples as float64 in [-1, 1) (integer PCM scaled, float kept as is)."""
    if data.dtype.kind not in "iu":
        return data.astype(np.float64)
    half = 2.0 ** (8 * data.dtype.itemsize - 1)  # 24-bit PCM is read left-aligned in int32
    offset = half if data.dtype.kind == "u" else 0.0  # 8-bit PCM is unsigned
    return (data.astype(np.float64) - offset) / half


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
