"""Audio waveforms shared by the speech simulator, the speech studies and the speech targets."""

from __future__ import annotations

import struct
import warnings
from math import gcd
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from pipeline.errors import DataError

PCM_SCALE = 32767  # full scale of 16-bit samples
RATE = 16_000  # Hz, the rate every speech target works at


def resample(waveform: np.ndarray, source: int, target: int) -> np.ndarray:
    """Polyphase resampling of a waveform from ``source`` to ``target`` Hz.

    Parameters
    ----------
    waveform : ndarray, shape (n_samples,)
    source, target : int
        Sampling rates in Hz.

    Returns
    -------
    ndarray, shape (round(n_samples * target / source),)
        float32; the input unchanged (as float32) when the rates are equal.
    """
    if source == target:
        return waveform.astype(np.float32)
    factor = gcd(source, target)
    return resample_poly(waveform, target // factor, source // factor).astype(np.float32)


def write_wav(path: Path, waveform: np.ndarray, rate: int) -> None:
    """Write a mono waveform in [-1, 1] as a 16-bit PCM WAV file (clipped to that range)."""
    pcm = np.round(np.clip(waveform, -1.0, 1.0) * PCM_SCALE).astype(np.int16)
    wavfile.write(path, rate, pcm)


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
