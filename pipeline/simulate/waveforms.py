"""Noise waveforms of the simulator: coloured Gaussian noise, alpha bursts, line, drifts, blinks.

Each generator returns series of unit expected variance (or, for blinks, of unit peak per
unit amplitude); :mod:`pipeline.simulate.noise` gives them topographies and amplitudes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

PINK_FLOOR = 1.0  # Hz
ALPHA_BANDWIDTH = 0.8  # Hz, standard deviation of the alpha spectral peak
ALPHA_BURST_BANDWIDTH = 0.3  # Hz, standard deviation of the burst envelope's spectrum
LINE_HARMONICS = (1.0, 0.3)  # relative amplitude of line_freq and of its second harmonic
DRIFT_FREQUENCIES = (0.005, 0.1)  # Hz
DRIFT_COMPONENTS = 4  # sinusoids per channel
DRIFT_STEP = 0.1  # seconds between exact evaluations of the drifts
BLINK_TIME_CONSTANT = 0.07  # seconds from onset to peak
BLINK_WINDOW = 0.8  # seconds, blink waveform length
BLINK_JITTER = 0.3  # blink peaks are uniform in blink_amplitude * (1 +- BLINK_JITTER)


def shaped_noise(
    rng: np.random.Generator,
    n_series: int,
    n_samples: int,
    sfreq: float,
    amplitude: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Gaussian noise with a given amplitude spectrum and an expected variance of 1.

    The noise is synthesised in the frequency domain over a fast FFT length (at least
    ``n_samples``) and cut to ``n_samples``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_series, n_samples : int
    sfreq : float
    amplitude : callable
        Maps frequencies (Hz, shape (F,)) to spectral amplitudes (square root of power).

    Returns
    -------
    ndarray, shape (n_series, n_samples)
    """
    n_fft = next_fast_len(n_samples, real=True)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sfreq)
    gain = amplitude(freqs)  # (F,)
    weights = np.full(freqs.size, 2.0)
    weights[0] = 1.0
    weights[-1] = 1.0 if n_fft % 2 == 0 else 2.0
    gain = gain / np.sqrt((weights * gain**2).sum() / n_fft)
    spectrum = rfft(rng.standard_normal((n_series, n_fft)), axis=1) * gain
    return irfft(spectrum, n=n_fft, axis=1)[:, :n_samples]


def pink_amplitude(freqs: np.ndarray) -> np.ndarray:
    """1/f power (amplitude 1/sqrt(f)) above ``PINK_FLOOR``, flat below, no DC."""
    amplitude = 1.0 / np.sqrt(np.maximum(freqs, PINK_FLOOR))
    return np.where(freqs > 0, amplitude, 0.0)


def alpha_bursts(rng: np.random.Generator, n_samples: int, sfreq: float, peak: float) -> np.ndarray:
    """Alpha-band noise switched on and off by a slow envelope; expected variance 1. (T,)"""
    carrier = shaped_noise(
        rng, 1, n_samples, sfreq, lambda f: np.exp(-0.25 * ((f - peak) / ALPHA_BANDWIDTH) ** 2)
    )[0]
    envelope = shaped_noise(
        rng, 1, n_samples, sfreq,
        lambda f: np.where(f > 0, np.exp(-0.25 * (f / ALPHA_BURST_BANDWIDTH) ** 2), 0.0),
    )[0]
    return np.sqrt(2.0) * np.maximum(envelope, 0.0) * carrier


def line_wave(rng: np.random.Generator, n_samples: int, sfreq: float, freq: float) -> np.ndarray:
    """Line noise at ``freq`` and its second harmonic (if below Nyquist); RMS 1. (T,)"""
    t = np.arange(n_samples) / sfreq
    orders = np.arange(1, len(LINE_HARMONICS) + 1)
    keep = orders * freq < sfreq / 2.0
    weights = np.asarray(LINE_HARMONICS)[keep]
    phases = rng.uniform(0.0, 2 * np.pi, size=weights.size)
    waves = np.sin(2 * np.pi * freq * orders[keep, None] * t + phases[:, None])  # (H, T)
    return np.sqrt(2.0 / (weights**2).sum()) * weights @ waves


def drifts(rng: np.random.Generator, n_series: int, n_samples: int, sfreq: float) -> np.ndarray:
    """Independent slow drifts (sums of sinusoids below 0.1 Hz); expected variance 1. (N, T)

    The sinusoids are evaluated every ``DRIFT_STEP`` seconds and linearly interpolated.
    """
    step = max(1, int(DRIFT_STEP * sfreq))
    coarse = np.arange(n_samples // step + 2) * step / sfreq  # (M,)
    freqs = rng.uniform(*DRIFT_FREQUENCIES, size=(n_series, DRIFT_COMPONENTS, 1))
    phases = rng.uniform(0.0, 2 * np.pi, size=(n_series, DRIFT_COMPONENTS, 1))
    waves = np.sqrt(2.0 / DRIFT_COMPONENTS) * np.sin(2 * np.pi * freqs * coarse + phases).sum(1)
    index, fraction = np.divmod(np.arange(n_samples), step)
    fraction = fraction / step
    return waves[:, index] * (1.0 - fraction) + waves[:, index + 1] * fraction


def blink_waveform(sfreq: float) -> np.ndarray:
    """One blink, unit peak at ``BLINK_TIME_CONSTANT``. (n_times,)"""
    x = np.arange(int(round(BLINK_WINDOW * sfreq))) / sfreq / BLINK_TIME_CONSTANT
    return x * np.exp(1.0 - x)


def blink_series(
    rng: np.random.Generator, n_samples: int, sfreq: float, rate: float, amplitude: float
) -> np.ndarray:
    """Blinks at Poisson times (``rate`` per second) with jittered peaks. (T,)"""
    waveform = blink_waveform(sfreq)
    count = rng.poisson(rate * n_samples / sfreq)
    starts = rng.integers(0, n_samples, size=count)
    peaks = amplitude * rng.uniform(1.0 - BLINK_JITTER, 1.0 + BLINK_JITTER, size=count)
    series = np.zeros(n_samples + waveform.size)
    for start, peak in zip(starts, peaks, strict=True):
        series[start : start + waveform.size] += peak * waveform
    return series[:n_samples]
