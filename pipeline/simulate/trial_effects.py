"""Single-trial responses that differ from trial to trial (all off by default).

A trial of stimulus ``n``, in run ``r``, has the sensor response

    ``g_r * (M @ (a * shift(s_n, d) + induced_n(phi)))``

where ``s_n`` (n_sources, n_times) is the stimulus's evoked source activity, ``M`` the
subject's mixing from sources to sensors (forward gains and snr scale), ``d`` the trial's
latency shift (one per trial, or one per source; ``variability.latency_ms``), ``a`` its
log-normal evoked gain of mean 1 (``variability.amplitude_sd``), ``induced_n(phi)`` the
non-phase-locked bursts of :mod:`pipeline.simulate.induced` with the trial's random phases,
and ``g_r`` (n_channels,) the run's log-normal sensor gains of mean 1 (``run_drift``).
Runs are consecutive blocks of trials in presentation order.

The oracle's templates are the expected trial responses (:func:`expected_sources`: the
evoked activity averaged over the latency distribution, by Gauss-Hermite quadrature), and
the deviations of single trials from them are drawn afresh (:func:`draw_trials`) and added
to its noise windows (:mod:`pipeline.simulate.oracle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.simulate.induced import InducedModel, make_induced_model
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

QUADRATURE_NODES = 21  # Gauss-Hermite nodes of the expected (latency-averaged) response


@dataclass(frozen=True)
class TrialDraws:
    """The random parts of a set of trials.

    Attributes
    ----------
    delays : ndarray, shape (n_trials, n_sources)
        Latency shift of each source (seconds; equal across sources unless per source).
    gains : ndarray, shape (n_trials,)
        Evoked gain.
    phases : ndarray, shape (n_trials, n_sources)
        Phase (radians) of each source's induced burst.
    runs : ndarray of int, shape (n_trials,)
        Run of each trial.
    """

    delays: np.ndarray
    gains: np.ndarray
    phases: np.ndarray
    runs: np.ndarray


@dataclass(frozen=True)
class TrialEffects:
    """What one subject's single-trial responses are made of.

    Attributes
    ----------
    sources : ndarray, shape (n_stimuli, n_sources, n_times)
        Evoked source activity of each stimulus from its onset.
    mixing : ndarray, shape (n_channels, n_sources)
        SI units at the sensors per source unit (forward gains times the snr scale).
    sfreq : float
    latency_sd : float
        Seconds.
    latency_per_source : bool
    amplitude_sd : float
        Of the log of the evoked gain.
    induced : InducedModel or None
    run_gains : ndarray, shape (n_runs, n_channels)
    """

    sources: np.ndarray
    mixing: np.ndarray
    sfreq: float
    latency_sd: float
    latency_per_source: bool
    amplitude_sd: float
    induced: InducedModel | None
    run_gains: np.ndarray

    def response(self, stimulus: int, draws: TrialDraws, trial: int) -> np.ndarray:
        """Trial ``trial`` of ``draws``, showing ``stimulus``. Returns (n_channels, n_times)."""
        activity = self.sources[stimulus]  # (S, T)
        if self.latency_sd:
            activity = shift(activity, draws.delays[trial], self.sfreq)
        activity = draws.gains[trial] * activity
        if self.induced is not None:
            activity = activity + self.induced.bursts(stimulus, draws.phases[trial])
        return self.run_gains[draws.runs[trial]][:, None] * (self.mixing @ activity)


def trial_effects_active(cfg: SimulateConfig) -> bool:
    """Whether any single-trial effect of ``cfg`` is on."""
    return bool(cfg.variability.latency_ms or cfg.variability.amplitude_sd
                or cfg.induced.amplitude or cfg.run_drift.gain_sd)


def lognormal(rng: np.random.Generator, sd: float, size: int | tuple[int, ...]) -> np.ndarray:
    """Log-normal draws of mean 1 whose log has standard deviation ``sd``."""
    return np.exp(sd * rng.standard_normal(size) - sd**2 / 2)


def make_trial_effects(
    cfg: SimulateConfig, sources: np.ndarray, mixing: np.ndarray, subject_index: int
) -> TrialEffects:
    """One subject's single-trial effects (the run gains drawn for this subject).

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``variability``, ``induced``, ``run_drift``, ``sfreq`` and ``seed``.
    sources : ndarray, shape (n_stimuli, n_sources, n_times)
    mixing : ndarray, shape (n_channels, n_sources)
    subject_index : int

    Returns
    -------
    TrialEffects
    """
    induced = (make_induced_model(cfg.induced, sources, cfg.sfreq, cfg.seed)
               if cfg.induced.amplitude else None)
    rng = make_rng(cfg.seed, "run drift", subject_index)
    run_gains = lognormal(rng, cfg.run_drift.gain_sd, (cfg.run_drift.n_runs, len(mixing)))
    return TrialEffects(
        sources=sources,
        mixing=mixing,
        sfreq=cfg.sfreq,
        latency_sd=cfg.variability.latency_ms / 1000.0,
        latency_per_source=cfg.variability.latency_per_source,
        amplitude_sd=cfg.variability.amplitude_sd,
        induced=induced,
        run_gains=run_gains,
    )


def draw_trials(effects: TrialEffects, runs: np.ndarray, rng: np.random.Generator) -> TrialDraws:
    """Draw the latency shifts, gains and phases of trials in ``runs``.

    Parameters
    ----------
    effects : TrialEffects
    runs : ndarray of int, shape (n_trials,)
        The run of each trial.
    rng : numpy.random.Generator

    Returns
    -------
    TrialDraws
    """
    n_trials, n_sources = len(runs), effects.sources.shape[1]
    shape = (n_trials, n_sources) if effects.latency_per_source else (n_trials, 1)
    delays = np.broadcast_to(effects.latency_sd * rng.standard_normal(shape),
                             (n_trials, n_sources))
    gains = lognormal(rng, effects.amplitude_sd, n_trials)
    phases = rng.uniform(0.0, 2 * np.pi, size=(n_trials, n_sources))
    return TrialDraws(delays, gains, phases, np.asarray(runs))


def schedule_runs(n_trials: int, n_runs: int) -> np.ndarray:
    """The run of each of ``n_trials`` consecutive trials cut into ``n_runs`` equal blocks."""
    return np.arange(n_trials) * n_runs // n_trials


def shift(activity: np.ndarray, delays: np.ndarray, sfreq: float) -> np.ndarray:
    """Delay each time course of ``activity`` by its ``delays`` (linear interpolation).

    Parameters
    ----------
    activity : ndarray, shape (..., n_sources, n_times)
    delays : ndarray, shape (..., n_sources)
        Seconds (positive: later); samples shifted in from outside the window are zero.
    sfreq : float

    Returns
    -------
    ndarray, shape (..., n_sources, n_times)
    """
    n_times = activity.shape[-1]
    position = np.arange(n_times) - np.asarray(delays)[..., None] * sfreq  # (..., S, T)
    position = np.broadcast_to(position, activity.shape)
    low = np.floor(position).astype(np.int64)
    frac = position - low

    def sample(index: np.ndarray) -> np.ndarray:
        inside = (index >= 0) & (index < n_times)
        values = np.take_along_axis(activity, np.clip(index, 0, n_times - 1), axis=-1)
        return np.where(inside, values, 0.0)

    return (1.0 - frac) * sample(low) + frac * sample(low + 1)


def expected_sources(effects: TrialEffects, stimuli: np.ndarray) -> np.ndarray:
    """The evoked source activity of ``stimuli`` averaged over the latency distribution.

    Parameters
    ----------
    effects : TrialEffects
    stimuli : ndarray of int, shape (n,)
        Rows of the stimuli.

    Returns
    -------
    ndarray, shape (n, n_sources, n_times)
        ``E[a * shift(s_n, d)] = E[shift(s_n, d)]`` (mean-one gain; the induced bursts and
        the run gains average to zero and one), by Gauss-Hermite quadrature.
    """
    activity = effects.sources[stimuli]  # (n, S, T)
    if not effects.latency_sd:
        return activity
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    weights = weights / weights.sum()
    delays = np.zeros(activity.shape[:2])  # (n, S)
    return sum(
        weight * shift(activity, delays + effects.latency_sd * node, effects.sfreq)
        for node, weight in zip(nodes, weights, strict=True)
    )
