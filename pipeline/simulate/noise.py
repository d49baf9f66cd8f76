"""Nuisance signals of the simulated EEG: background activity, artefacts and bad channels.

Components (amplitudes from :class:`pipeline.config.NoiseConfig`):

- ``pink``: 1/f background, spatially correlated as the activity of ``N_NOISE_SOURCES``
  independent random dipoles seen through the subject's forward model (1/f power above
  ``PINK_FLOOR`` Hz, flat below);
- ``white``: independent sensor noise;
- ``alpha``: 8-12 Hz bursts (a subject-specific peak) from two occipital dipoles;
- ``line``: power-line sinusoid at ``line_freq`` plus its second harmonic (when below
  Nyquist), mostly common to all channels;
- ``drift``: slow independent drifts per channel, below 0.1 Hz;
- blinks: frontal deflections with a fast rise and exponential decay, at Poisson times.

Units: each continuous component (pink, white, alpha, line, drift) has an expected
mean square of 1 over the good channels and time, and is multiplied by its relative
amplitude; ``blink_amplitude`` is the peak of a blink at the most frontal channels in the
same units. One unit is ``NOISE_UNIT`` volts (10 microvolts), so the default background
(pink = 1) is 10 microvolts RMS. ``NoiseModel.rms`` is the expected total noise RMS in volts:
``NOISE_UNIT * sqrt(pink**2 + white**2 + alpha**2 + line**2 + drift**2 + blink_power)``,
where ``blink_power`` is the expected mean square of the blinks over the good channels.

Bad channels (``bad_channels`` per subject) are either flat (no signal, a tiny white
noise) or noisy (the signal plus white noise ``NOISY_LEVEL`` times the total noise RMS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from pipeline.simulate.forward import CHANNELS
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    import mne

    from pipeline.config import NoiseConfig
    from pipeline.simulate.forward import Head

NOISE_UNIT = 10e-6  # volts
PINK_FLOOR = 1.0  # Hz
ALPHA_PEAK_RANGE = (9.0, 11.0)  # Hz, each subject's alpha peak
ALPHA_BANDWIDTH = 0.8  # Hz, standard deviation of the alpha spectral peak
ALPHA_BURST_BANDWIDTH = 0.3  # Hz, standard deviation of the burst envelope's spectrum
LINE_HARMONICS = (1.0, 0.3)  # relative amplitude of line_freq and of its second harmonic
LINE_TOPOGRAPHY_SPREAD = 0.3  # channel-to-channel spread of the line-noise amplitude
DRIFT_FREQUENCIES = (0.005, 0.1)  # Hz
DRIFT_COMPONENTS = 4  # sinusoids per channel
DRIFT_STEP = 0.1  # seconds between exact evaluations of the drifts
BLINK_TIME_CONSTANT = 0.07  # seconds from onset to peak
BLINK_WINDOW = 0.8  # seconds, blink waveform length
BLINK_JITTER = 0.3  # blink peaks are uniform in blink_amplitude * (1 +- BLINK_JITTER)
BLINK_SPACE_CONSTANT = 0.05  # metres, decay of the blink field from the eyes
EYE_OFFSET = (0.0, 0.02, -0.04)  # metres, from the Fp1-Fp2 midpoint to the eyes
FLAT_LEVEL = 0.01  # white noise of a flat channel, relative to the total noise RMS
NOISY_LEVEL = 10.0  # extra white noise of a noisy channel, relative to the total noise RMS
BAD_CHANNEL_KINDS = {"flat": (0.0, FLAT_LEVEL), "noisy": (1.0, NOISY_LEVEL)}  # (signal, noise)


@dataclass(frozen=True)
class NoiseModel:
    """One subject's nuisance generator.

    Attributes
    ----------
    sfreq : float
    amplitudes : dict of str to float
        Relative amplitude of each continuous component (keys of ``COMPONENTS``).
    blink_rate, blink_amplitude : float
        Blinks per second, and relative blink peak.
    pink_mixing : ndarray, shape (n_channels, n_channels)
        Square root of the spatial covariance of the 1/f background.
    alpha_topography, line_topography, blink_topography : ndarray, shape (n_channels,)
    alpha_frequency, line_frequency : float
    good : ndarray of bool, shape (n_channels,)
    bad_channels : dict of str to str
        Bad channel name -> kind ("flat" or "noisy").
    rms : float
        Expected total noise RMS over the good channels, in volts.
    """

    sfreq: float
    amplitudes: dict[str, float]
    blink_rate: float
    blink_amplitude: float
    pink_mixing: np.ndarray
    alpha_topography: np.ndarray
    alpha_frequency: float
    line_frequency: float
    line_topography: np.ndarray
    blink_topography: np.ndarray
    good: np.ndarray
    bad_channels: dict[str, str]
    rms: float

    @property
    def signal_gain(self) -> np.ndarray:
        """How much of the brain signal each channel records (0 on flat channels). (C,)"""
        gain = np.ones(len(CHANNELS))
        for name, kind in self.bad_channels.items():
            gain[CHANNELS.index(name)] = BAD_CHANNEL_KINDS[kind][0]
        return gain

    @property
    def fault_noise(self) -> np.ndarray:
        """Standard deviation (volts) of the white noise bad channels add. (C,)"""
        level = np.zeros(len(CHANNELS))
        for name, kind in self.bad_channels.items():
            level[CHANNELS.index(name)] = BAD_CHANNEL_KINDS[kind][1] * self.rms
        return level


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


def _pink(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    sources = shaped_noise(rng, len(CHANNELS), n_samples, model.sfreq, pink_amplitude)
    return model.pink_mixing @ sources


def _white(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    return rng.standard_normal((len(CHANNELS), n_samples))


def _alpha(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    series = alpha_bursts(rng, n_samples, model.sfreq, model.alpha_frequency)
    return np.outer(model.alpha_topography, series)


def _line(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    series = line_wave(rng, n_samples, model.sfreq, model.line_frequency)
    return np.outer(model.line_topography, series)


def _drift(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    return drifts(rng, len(CHANNELS), n_samples, model.sfreq)


COMPONENTS: dict[str, Callable[[NoiseModel, np.random.Generator, int], np.ndarray]] = {
    "pink": _pink,
    "white": _white,
    "alpha": _alpha,
    "line": _line,
    "drift": _drift,
}


def _unit_mean_square(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    return values / np.sqrt(np.mean(values[good] ** 2))


def _blink_topography(info: mne.Info) -> np.ndarray:
    """Blink field: unit at the channel nearest the eyes, decaying with distance. (C,)"""
    index = [info["ch_names"].index(name) for name in CHANNELS]
    positions = np.array([info["chs"][i]["loc"][:3] for i in index])  # (C, 3)
    eyes = positions[[CHANNELS.index("Fp1"), CHANNELS.index("Fp2")]].mean(axis=0) + EYE_OFFSET
    field = np.exp(-np.linalg.norm(positions - eyes, axis=1) / BLINK_SPACE_CONSTANT)
    return field / field.max()


def make_noise_model(
    cfg: NoiseConfig, sfreq: float, info: mne.Info, head: Head, seed: int, subject_index: int
) -> NoiseModel:
    """Draw one subject's noise model: topographies, alpha peak, bad channels.

    Parameters
    ----------
    cfg : NoiseConfig
        Relative amplitudes, blink rate, line frequency and number of bad channels.
    sfreq : float
        Sampling rate in Hz.
    info : mne.Info
        The channels with the montage set (for the blink field).
    head : Head
        The subject's gains (the "noise" and "alpha" source groups are used).
    seed : int
        The study seed.
    subject_index : int
        0-based subject index.

    Returns
    -------
    NoiseModel
    """
    rng = make_rng(seed, "noise model", subject_index)
    n_channels = len(CHANNELS)
    bad = rng.choice(n_channels, size=cfg.bad_channels, replace=False)
    kinds = rng.choice(list(BAD_CHANNEL_KINDS), size=cfg.bad_channels)
    good = np.ones(n_channels, dtype=bool)
    good[bad] = False
    covariance = head.gains["noise"] @ head.gains["noise"].T  # (C, C)
    covariance /= np.mean(np.diag(covariance)[good])
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    mixing = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    blink_topography = _blink_topography(info)
    blink_rate = cfg.blinks_per_minute / 60.0
    blink_power = (
        blink_rate * cfg.blink_amplitude**2 * (1.0 + BLINK_JITTER**2 / 3.0)
        * np.sum(blink_waveform(sfreq) ** 2) / sfreq * np.mean(blink_topography[good] ** 2)
    )
    amplitudes = {name: float(getattr(cfg, name)) for name in COMPONENTS}
    rms = NOISE_UNIT * np.sqrt(sum(a**2 for a in amplitudes.values()) + blink_power)
    line_topography = 1.0 + LINE_TOPOGRAPHY_SPREAD * rng.standard_normal(n_channels)
    return NoiseModel(
        sfreq=sfreq,
        amplitudes=amplitudes,
        blink_rate=blink_rate,
        blink_amplitude=cfg.blink_amplitude,
        pink_mixing=mixing,
        alpha_topography=_unit_mean_square(head.gains["alpha"].sum(axis=1), good),
        alpha_frequency=float(rng.uniform(*ALPHA_PEAK_RANGE)),
        line_frequency=cfg.line_freq,
        line_topography=_unit_mean_square(line_topography, good),
        blink_topography=blink_topography,
        good=good,
        bad_channels={CHANNELS[i]: str(k) for i, k in zip(bad, kinds, strict=True)},
        rms=float(rms),
    )


def background(model: NoiseModel, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """All nuisance components summed, in volts, before channel faults.

    Parameters
    ----------
    model : NoiseModel
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
    """
    total = np.zeros((len(CHANNELS), n_samples))
    for name, component in COMPONENTS.items():
        if model.amplitudes[name] > 0:
            total += model.amplitudes[name] * component(model, rng, n_samples)
    blinks = blink_series(rng, n_samples, model.sfreq, model.blink_rate, model.blink_amplitude)
    return NOISE_UNIT * (total + np.outer(model.blink_topography, blinks))


def apply_channel_faults(
    model: NoiseModel, data: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Make the bad channels flat or noisy.

    Parameters
    ----------
    model : NoiseModel
    data : ndarray, shape (n_channels, n_samples)
        Signal plus background, volts.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        A new array; good channels are unchanged.
    """
    faulty = np.flatnonzero(model.fault_noise)
    result = model.signal_gain[:, None] * data
    white = rng.standard_normal((faulty.size, data.shape[1]))
    result[faulty] += model.fault_noise[faulty, None] * white
    return result
