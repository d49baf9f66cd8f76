"""The ``mel`` target: log-mel energies of an audio stimulus in equal time windows.

numpy/scipy only: the HTK mel scale with triangular filters peaking at 1, periodic Hann
frames, ``10 log10(power + POWER_FLOOR)`` dB, averaged within ``windows`` equal time
windows of the segment and flattened window by window (``n_mels * windows`` dims).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.signal import get_window

from pipeline.audio import RATE
from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.targets.audio import audio_paths, pool_windows, waveform_batches
from pipeline.targets.base import register_target
from pipeline.targets.options import TargetsConfig

POWER_FLOOR = 1e-10  # added to mel power before the log (-100 dB)


class MelOptions(Section):
    """``targets.options.mel``: the log-mel spectrogram and its time windows."""

    n_mels: int = Field(20, ge=1, description="mel bands (HTK mel scale, triangular filters)")
    windows: int = Field(
        10, ge=1, description="equal time windows the segment's log-mel frames are averaged "
        "in; latents are windows x n_mels (window-major)")
    fmin: float = Field(0.0, ge=0, description="lowest band edge, Hz")
    fmax: float = Field(8000.0, gt=0, le=RATE / 2, description="highest band edge, Hz "
                        "(at most 8000, the Nyquist frequency at 16 kHz)")
    window_ms: float = Field(25.0, gt=0, le=1000, description="analysis (Hann) window, ms")
    hop_ms: float = Field(10.0, gt=0, le=1000, description="step between frames, ms")

    @model_validator(mode="after")
    def _band_order(self) -> MelOptions:
        if self.fmin >= self.fmax:
            raise ValueError(f"got fmin={self.fmin} >= fmax={self.fmax}; expected fmin < fmax")
        return self


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(options: MelOptions, n_fft: int) -> np.ndarray:
    """Return triangular HTK mel filters over the bins of an ``n_fft``-point FFT at 16 kHz.

    Band centres are equally spaced on the HTK mel scale between ``fmin`` and ``fmax``;
    each filter rises from its lower neighbour's centre to 1 at its own and falls to 0 at
    its upper neighbour's (peak-normalised, as in HTK; not Slaney's equal-area scaling).

    Returns
    -------
    ndarray, shape (n_mels, n_fft // 2 + 1)
        Filter weights.

    Raises
    ------
    ParamsError
        If a band is so narrow that it holds no FFT bin.
    """
    hz = mel_to_hz(np.linspace(hz_to_mel(options.fmin), hz_to_mel(options.fmax),
                               options.n_mels + 2))  # (n_mels + 2,) band edges and centres
    bins = np.fft.rfftfreq(n_fft, d=1.0 / RATE)  # (n_fft // 2 + 1,)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    filters = np.minimum(rising, falling).clip(min=0.0)  # (n_mels, n_bins)
    empty = np.flatnonzero(filters.sum(axis=1) == 0)
    if empty.size:
        raise ParamsError(
            f"targets.options.mel: with n_mels={options.n_mels}, window_ms={options.window_ms} "
            f"and {options.fmin}-{options.fmax} Hz, bands {empty[:5].tolist()} hold no FFT bin; "
            "expected fewer bands, a longer window or a higher fmin"
        )
    return filters


@dataclass(frozen=True)
class MelAnalysis:
    """A log-mel spectrogram at 16 kHz: Hann frames, power spectrum, mel filters, dB.

    Attributes
    ----------
    window : ndarray, shape (frame_length,)
        The periodic Hann window.
    hop : int
        Samples between frame starts.
    n_fft : int
        FFT length (the window length rounded up to a power of two, as in Kaldi).
    filters : ndarray, shape (n_mels, n_fft // 2 + 1)
        From :func:`mel_filterbank`.
    """

    window: np.ndarray
    hop: int
    n_fft: int
    filters: np.ndarray

    @classmethod
    def from_options(cls, options: MelOptions) -> MelAnalysis:
        """Build the analysis that ``options`` describe."""
        length = max(1, round(options.window_ms * RATE / 1000))
        hop = max(1, round(options.hop_ms * RATE / 1000))
        n_fft = 1 << (length - 1).bit_length()
        return cls(window=get_window("hann", length), hop=hop, n_fft=n_fft,
                   filters=mel_filterbank(options, n_fft))

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        """Return the log-mel spectrogram of a 16 kHz waveform.

        Frame ``t`` starts at sample ``t * hop``; the end is zero-padded so that every sample
        lies in a frame. Powers are scaled by the window's energy (white noise of variance
        s**2 has power s**2 in every bin).

        Returns
        -------
        ndarray, shape (n_frames, n_mels)
            Mel band energies in dB (``10 log10(power + 1e-10)``).
        """
        length = len(self.window)
        n_frames = 1 + math.ceil(max(len(waveform) - length, 0) / self.hop)
        padded = np.pad(waveform, (0, length + (n_frames - 1) * self.hop - len(waveform)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, length)[::self.hop]
        spectrum = np.fft.rfft(frames * self.window, n=self.n_fft)  # (n_frames, n_bins)
        power = np.abs(spectrum) ** 2 / np.sum(self.window ** 2)
        return 10.0 * np.log10(power @ self.filters.T + POWER_FLOOR)  # (n_frames, n_mels)


@register_target("mel", options=MelOptions)
def mel_features(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame) -> np.ndarray:
    """Return each stimulus' log-mel spectrogram averaged within equal time windows.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` (files read between progress checks) and ``options.mel``
        (:class:`MelOptions`).
    stimuli_dir : Path
        The study's ``stimuli/`` folder; audio paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``audio``).

    Returns
    -------
    ndarray, shape (n_stimuli, windows * n_mels)
        float32 dB values, window-major (200 dims by default).
    """
    options: MelOptions = cfg.settings("mel")
    analysis = MelAnalysis.from_options(options)
    paths = audio_paths(stimuli_dir, stimuli, "mel")
    latents = [pool_windows(analysis(waveform), options.windows)
               for batch in waveform_batches(paths, cfg.batch_size, "mel") for waveform in batch]
    return np.stack(latents).astype(np.float32)
