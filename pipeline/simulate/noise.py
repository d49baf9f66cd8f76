"""Nuisance signals of the simulated sensors: background activity, artefacts and bad channels.

Components (amplitudes from :class:`pipeline.config.NoiseConfig`):

- ``pink``: 1/f background, spatially correlated as the activity of the "noise" source
  group (independent random dipoles) seen through the subject's forward model (1/f power
  above ``PINK_FLOOR`` Hz, flat below; :mod:`pipeline.simulate.waveforms`);
- ``white``: independent sensor noise;
- ``alpha``: 8-12 Hz bursts (a subject-specific peak) from two occipital dipoles;
- ``line``: power-line sinusoid at ``line_freq`` plus its second harmonic (when below
  Nyquist), mostly common to all channels;
- ``drift``: slow independent drifts per channel, below 0.1 Hz;
- blinks: deflections with a fast rise and exponential decay, at Poisson times, with the
  sensor array's blink topography (frontal electrodes in EEG, an eye dipole in MEG, none
  in sEEG).

Units: the simulator works in noise units, one per channel type (mag and grad apart),
whose SI value is the array's ``noise_units`` (10 microvolts for EEG). Each continuous
component (pink, white, alpha, line, drift) has an expected mean square of 1 over the good
channels of each type and time, and is multiplied by its relative amplitude;
``blink_amplitude`` is the peak of a blink at the channels nearest the eyes in the same
units. The gains of every source group are divided by ``NoiseModel.gain_scale``, the
per-type factor that gives the 1/f background its unit mean square, so the evoked
responses keep their physical size relative to it. ``NoiseModel.rms`` is the expected
total noise RMS in noise units: ``sqrt(pink**2 + white**2 + alpha**2 + line**2 + drift**2
+ blink_power)``, where ``blink_power`` is the expected mean square of the blinks over the
good channels.

Bad channels (``bad_channels`` per subject) are flat or noisy (:mod:`pipeline.simulate.faults`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.simulate.faults import BAD_CHANNEL_KINDS, draw_bad_channels
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.sensors import channel_groups, unit_mean_square
from pipeline.simulate.waveforms import (
    BLINK_JITTER,
    alpha_bursts,
    blink_series,
    blink_waveform,
    drifts,
    line_wave,
    pink_amplitude,
    shaped_noise,
)

if TYPE_CHECKING:
    from pipeline.simulate.forward import Head, HeadTemplate
    from pipeline.simulate.options import NoiseConfig

ALPHA_PEAK_RANGE = (9.0, 11.0)  # Hz, each subject's alpha peak
LINE_TOPOGRAPHY_SPREAD = 0.3  # channel-to-channel spread of the line-noise amplitude


@dataclass(frozen=True)
class NoiseModel:
    """One subject's nuisance generator.

    Attributes
    ----------
    sfreq : float
    ch_names : tuple of str
    units : ndarray, shape (n_channels,)
        SI value of one noise unit on each channel.
    gain_scale : ndarray, shape (n_channels,)
        Gains are divided by this to be in noise units per ampere-metre.
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
        Expected total noise RMS over the good channels, in noise units.
    """

    sfreq: float
    ch_names: tuple[str, ...]
    units: np.ndarray
    gain_scale: np.ndarray
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
    def n_channels(self) -> int:
        """The number of channels."""
        return len(self.ch_names)

    @property
    def signal_gain(self) -> np.ndarray:
        """How much of the brain signal each channel records (0 on flat channels). (C,)"""
        gain = np.ones(self.n_channels)
        for name, kind in self.bad_channels.items():
            gain[self.ch_names.index(name)] = BAD_CHANNEL_KINDS[kind][0]
        return gain

    @property
    def fault_noise(self) -> np.ndarray:
        """Standard deviation (SI) of the white noise bad channels add. (C,)"""
        level = np.zeros(self.n_channels)
        for name, kind in self.bad_channels.items():
            index = self.ch_names.index(name)
            level[index] = BAD_CHANNEL_KINDS[kind][1] * self.rms * self.units[index]
        return level


def _pink(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    sources = shaped_noise(rng, model.n_channels, n_samples, model.sfreq, pink_amplitude)
    return model.pink_mixing @ sources


def _white(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    return rng.standard_normal((model.n_channels, n_samples))


def _alpha(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    series = alpha_bursts(rng, n_samples, model.sfreq, model.alpha_frequency)
    return np.outer(model.alpha_topography, series)


def _line(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    series = line_wave(rng, n_samples, model.sfreq, model.line_frequency)
    return np.outer(model.line_topography, series)


def _drift(model: NoiseModel, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    return drifts(rng, model.n_channels, n_samples, model.sfreq)


COMPONENTS: dict[str, Callable[[NoiseModel, np.random.Generator, int], np.ndarray]] = {
    "pink": _pink,
    "white": _white,
    "alpha": _alpha,
    "line": _line,
    "drift": _drift,
}


def type_scale(gains: np.ndarray, good: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per channel type, the RMS gain of the good channels (sqrt of their mean squared row norm).

    Parameters
    ----------
    gains : ndarray, shape (n_channels, n_sources)
    good : ndarray of bool, shape (n_channels,)
    groups : ndarray of int, shape (n_channels,)
        Channel type of each channel (:func:`pipeline.simulate.sensors.channel_groups`).

    Returns
    -------
    ndarray, shape (n_channels,)
        The value of each channel's type.
    """
    power = np.sum(gains**2, axis=1)  # (C,)
    scale = np.empty(len(power))
    for group in np.unique(groups):
        members = groups == group
        scale[members] = np.sqrt(np.mean(power[members & good]))
    return scale


def make_noise_model(
    cfg: NoiseConfig, sfreq: float, template: HeadTemplate, head: Head, seed: int,
    subject_index: int,
) -> NoiseModel:
    """Draw one subject's noise model: topographies, alpha peak, bad channels.

    Parameters
    ----------
    cfg : NoiseConfig
        Relative amplitudes, blink rate, line frequency and number of bad channels.
    sfreq : float
        Sampling rate in Hz.
    template : HeadTemplate
        The channels and the sensor array (noise units, blink topography).
    head : Head
        The subject's gains (the "noise" and "alpha" source groups are used).
    seed : int
        The study seed.
    subject_index : int
        0-based subject index.

    Returns
    -------
    NoiseModel

    Raises
    ------
    ParamsError
        If more than half of the channels would be bad.
    """
    rng = make_rng(seed, "noise model", subject_index)
    ch_names = tuple(template.info["ch_names"])
    n_channels = len(ch_names)
    groups = channel_groups(template.info)
    bad, kinds = draw_bad_channels(rng, cfg, n_channels)
    good = np.ones(n_channels, dtype=bool)
    good[bad] = False
    gain_scale = type_scale(head.gains["noise"], good, groups)  # (C,)
    covariance = head.gains["noise"] @ head.gains["noise"].T  # (C, C)
    covariance /= np.outer(gain_scale, gain_scale)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    mixing = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    blink_topography = template.array.blink_topography(template, head)
    blink_rate = cfg.blinks_per_minute / 60.0
    blink_power = (
        blink_rate * cfg.blink_amplitude**2 * (1.0 + BLINK_JITTER**2 / 3.0)
        * np.sum(blink_waveform(sfreq) ** 2) / sfreq * np.mean(blink_topography[good] ** 2)
    )
    amplitudes = {name: float(getattr(cfg, name)) for name in COMPONENTS}
    rms = np.sqrt(sum(a**2 for a in amplitudes.values()) + blink_power)
    line_topography = 1.0 + LINE_TOPOGRAPHY_SPREAD * rng.standard_normal(n_channels)
    return NoiseModel(
        sfreq=sfreq,
        ch_names=ch_names,
        units=template.array.noise_units(template.info),
        gain_scale=gain_scale,
        amplitudes=amplitudes,
        blink_rate=blink_rate,
        blink_amplitude=cfg.blink_amplitude,
        pink_mixing=mixing,
        alpha_topography=unit_mean_square(head.gains["alpha"].sum(axis=1), good, groups),
        alpha_frequency=float(rng.uniform(*ALPHA_PEAK_RANGE)),
        line_frequency=cfg.line_freq,
        line_topography=unit_mean_square(line_topography, good, groups),
        blink_topography=blink_topography,
        good=good,
        bad_channels={ch_names[i]: str(k) for i, k in zip(bad, kinds, strict=True)},
        rms=float(rms),
    )


def background(model: NoiseModel, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """All nuisance components summed, in SI units, before channel faults.

    Parameters
    ----------
    model : NoiseModel
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
    """
    total = np.zeros((model.n_channels, n_samples))
    for name, component in COMPONENTS.items():
        if model.amplitudes[name] > 0:
            total += model.amplitudes[name] * component(model, rng, n_samples)
    blinks = blink_series(rng, n_samples, model.sfreq, model.blink_rate, model.blink_amplitude)
    return model.units[:, None] * (total + np.outer(model.blink_topography, blinks))
