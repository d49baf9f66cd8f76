"""Induced activity: stimulus-dependent bursts of oscillation that are not phase-locked.

Each evoked source emits, after each onset, a Gaussian-windowed oscillation at its own
frequency (drawn uniformly in ``induced.band``) whose phase is drawn afresh on every trial,
so it averages out of the evoked response. Its amplitude is a fixed random non-linear
readout of the stimulus: ``(1 + tanh(W f + b)) / 2``, where ``f`` is the stimulus's evoked
source pattern (each source's RMS, standardised over the stimuli), so the band power of
single trials carries the stimulus while the trial average does not. The amplitudes are
scaled so that the RMS of the induced activity is ``induced.amplitude`` times the RMS of
the evoked source activity. The draws depend only on the study seed (same for every
subject).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.simulate.responses import response_times
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import InducedConfig

BIAS_SCALE = 0.5  # standard deviation of the readout biases


@dataclass(frozen=True)
class InducedModel:
    """The induced bursts of a study.

    Attributes
    ----------
    amplitudes : ndarray, shape (n_stimuli, n_sources)
        Burst amplitude of each source for each stimulus, in source units.
    frequencies : ndarray, shape (n_sources,)
        Hz.
    envelope : ndarray, shape (n_times,)
        Burst envelope from the onset (unit peak).
    times : ndarray, shape (n_times,)
        Seconds from the onset.
    """

    amplitudes: np.ndarray
    frequencies: np.ndarray
    envelope: np.ndarray
    times: np.ndarray

    def bursts(self, stimulus: int, phases: np.ndarray) -> np.ndarray:
        """One trial's induced source activity.

        Parameters
        ----------
        stimulus : int
            Row of the stimulus.
        phases : ndarray, shape (n_sources,)
            The trial's phase of each source's oscillation (radians).

        Returns
        -------
        ndarray, shape (n_sources, n_times)
        """
        carrier = np.cos(
            2 * np.pi * self.frequencies[:, None] * self.times[None, :] + phases[:, None]
        )  # (S, T)
        return self.amplitudes[stimulus][:, None] * self.envelope[None, :] * carrier


def make_induced_model(cfg: InducedConfig, sources: np.ndarray, sfreq: float, seed: int
                       ) -> InducedModel:
    """Draw the induced bursts' readout and frequencies, scaled to ``cfg.amplitude``.

    Parameters
    ----------
    cfg : InducedConfig
    sources : ndarray, shape (n_stimuli, n_sources, n_times)
        The evoked source activity of each stimulus.
    sfreq : float
    seed : int
        The study seed.

    Returns
    -------
    InducedModel
    """
    rng = make_rng(seed, "induced")
    n_sources = sources.shape[1]
    pattern = np.sqrt(np.mean(sources**2, axis=2))  # (N, S)
    pattern = (pattern - pattern.mean(axis=0)) / np.maximum(pattern.std(axis=0), 1e-12)
    weights = rng.standard_normal((n_sources, n_sources)) / np.sqrt(n_sources)  # (S, S)
    biases = BIAS_SCALE * rng.standard_normal(n_sources)
    readout = 0.5 * (1.0 + np.tanh(pattern @ weights.T + biases))  # (N, S)
    frequencies = rng.uniform(*cfg.band, size=n_sources)
    times = response_times(sfreq)
    envelope = np.exp(-0.5 * ((times - cfg.latency) / cfg.width) ** 2)  # (T,)
    # expected mean square over stimuli, sources, times and phases: A^2 <a^2> <env^2> / 2
    power = np.mean(readout**2) * np.mean(envelope**2) / 2
    scale = cfg.amplitude * np.sqrt(np.mean(sources**2) / power)
    return InducedModel(scale * readout, frequencies, envelope, times)
