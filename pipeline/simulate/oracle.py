"""What the Bayes-optimal oracle needs: true templates, noisy test trials, noise covariance.

All three live in one representation: the raw sensor data low-passed (zero-phase
Butterworth at ``LOWPASS_RATIO * oracle.sfreq``) and sampled at ``oracle.sfreq`` in the
window ``oracle.tmin`` .. ``oracle.tmax`` after each onset (``tmax`` excluded), flattened
channel-major. The same low-pass and sampling are applied to the noiseless responses (the
templates), to the recorded test trials and to a separately simulated noise-only recording
of the same subject, whose ``n_noise_epochs`` windows give the single-trial noise
covariance (Ledoit-Wolf shrinkage, computed in noise units so channel types of different
SI units shrink alike, then returned in SI units).

With single-trial effects on (:mod:`pipeline.simulate.trial_effects`), the templates are
the expected trial responses and each noise window also holds one trial's deviation from
its expected response (a fresh draw of the effects for a random stimulus of the study, in
a random run of the subject), so ``noise_cov`` is the covariance of noise plus trial
variability: the oracle is then the Gaussian (linear-discriminant) approximation of the
Bayes-optimal rule, an approximate upper bound. It ignores that this variability depends
on the stimulus (its band power for the induced bursts, its size for amplitude and run
gains), which a decoder could exploit.

Arrays of more than ``MAX_SENSOR_CHANNELS`` channels (MEG) would make the covariance too
large to store and to estimate, so their oracle works in the whitened evoked subspace
instead (:mod:`pipeline.simulate.oracle_subspace`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt

from pipeline.simulate.covariance import noise_covariance
from pipeline.simulate.oracle_subspace import evoked_subspace, project
from pipeline.simulate.recording import SubjectSimulation, record_noise
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.trial_effects import draw_trials, expected_sources

if TYPE_CHECKING:
    from pipeline.simulate.options import OracleConfig, SimulateConfig

LOWPASS_RATIO = 0.4  # low-pass cutoff as a fraction of the oracle's sampling rate
LOWPASS_ORDER = 4  # Butterworth order (doubled by the forward-backward pass)
MARGIN = 2.0  # seconds of padding around responses and noise stretches (filter edges)
EPOCHS_PER_PART = 240  # noise windows simulated per stretch of noise-only recording
RESIDUAL_CHUNK = 20_000_000  # padded samples (trials x channels x times) filtered at once
MAX_SENSOR_CHANNELS = 128  # above this, the oracle works in the whitened evoked subspace


@dataclass(frozen=True)
class OracleData:
    """One subject's oracle inputs (see the module docstring for the representation).

    Attributes
    ----------
    templates : ndarray, shape (n_test_stimuli, n_channels, n_times)
    stimulus_ids : ndarray of str, shape (n_test_stimuli,)
    trials : ndarray, shape (n_test_trials, n_channels, n_times)
    trial_stimulus_ids : ndarray of str, shape (n_test_trials,)
    noise_cov : ndarray, shape (n_channels * n_times, n_channels * n_times)
    space : str
        "sensors", or "evoked subspace" (then n_channels counts its dimensions).
    """

    templates: np.ndarray
    stimulus_ids: np.ndarray
    trials: np.ndarray
    trial_stimulus_ids: np.ndarray
    noise_cov: np.ndarray
    space: str = "sensors"


def window_offsets(cfg: OracleConfig, sfreq: float) -> np.ndarray:
    """Sample offsets from the onset of the oracle's time points. Returns (n_times,) int."""
    n_times = int(round((cfg.tmax - cfg.tmin) * cfg.sfreq))
    times = cfg.tmin + np.arange(n_times) / cfg.sfreq
    return np.round(times * sfreq).astype(np.int64)


def lowpass(data: np.ndarray, sfreq: float, oracle_sfreq: float) -> np.ndarray:
    """Zero-phase anti-alias low-pass along the last axis. Returns a new array, same shape."""
    sos = butter(LOWPASS_ORDER, LOWPASS_RATIO * oracle_sfreq, fs=sfreq, output="sos")
    return sosfiltfilt(sos, data, axis=-1)


def cut_windows(data: np.ndarray, starts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Samples ``starts + offsets`` of a continuous array. (C, N) -> (n_windows, C, n_times)."""
    index = np.asarray(starts)[:, None] + offsets[None, :]  # (n, t)
    return np.moveaxis(data[:, index], 0, 1)


def represent(
    data: np.ndarray, sfreq: float, starts: np.ndarray, cfg: OracleConfig
) -> np.ndarray:
    """Low-pass a continuous recording and cut the oracle windows at ``starts``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
    sfreq : float
        Sampling rate of ``data``.
    starts : ndarray of int, shape (n_windows,)
        Onset samples.
    cfg : OracleConfig

    Returns
    -------
    ndarray, shape (n_windows, n_channels, n_times)
    """
    return cut_windows(lowpass(data, sfreq, cfg.sfreq), starts, window_offsets(cfg, sfreq))


def represent_responses(evoked: np.ndarray, sfreq: float, cfg: OracleConfig) -> np.ndarray:
    """The oracle representation of isolated noiseless responses.

    Parameters
    ----------
    evoked : ndarray, shape (n, n_channels, n_times_response)
        Responses from their onset, as recorded.
    sfreq : float
    cfg : OracleConfig

    Returns
    -------
    ndarray, shape (n, n_channels, n_times)
    """
    pad = int(round(MARGIN * sfreq))
    padded = np.pad(evoked, ((0, 0), (0, 0), (pad, pad)))  # (n, C, T + 2 pad)
    filtered = lowpass(padded, sfreq, cfg.sfreq)
    return filtered[:, :, pad + window_offsets(cfg, sfreq)]


def noise_windows(subject: SubjectSimulation, cfg: SimulateConfig) -> np.ndarray:
    """Oracle windows of noise-only recordings of ``subject``.

    Parameters
    ----------
    subject : SubjectSimulation
    cfg : SimulateConfig
        Uses ``seed``, ``sfreq`` and ``oracle``.

    Returns
    -------
    ndarray, shape (oracle.n_noise_epochs, n_channels, n_times)
        Contiguous, non-overlapping windows.
    """
    offsets = window_offsets(cfg.oracle, cfg.sfreq)
    length = int(round((cfg.oracle.tmax - cfg.oracle.tmin) * cfg.sfreq))
    margin = int(round(MARGIN * cfg.sfreq)) - offsets[0]
    windows = []
    for part, first in enumerate(range(0, cfg.oracle.n_noise_epochs, EPOCHS_PER_PART)):
        count = min(EPOCHS_PER_PART, cfg.oracle.n_noise_epochs - first)
        n_samples = count * length + 2 * int(round(MARGIN * cfg.sfreq))
        noise = record_noise(subject, n_samples, cfg.seed, part)
        windows.append(represent(noise, cfg.sfreq, margin + length * np.arange(count), cfg.oracle))
    return np.concatenate(windows)


def expected_responses(subject: SubjectSimulation, stimuli: np.ndarray) -> np.ndarray:
    """Expected noiseless trial responses of ``stimuli`` (rows), as recorded (SI units).

    Returns
    -------
    ndarray, shape (n, n_channels, n_times)
        ``subject.evoked`` when no single-trial effect is on.
    """
    if subject.effects is None:
        return subject.evoked[stimuli]
    activity = expected_sources(subject.effects, stimuli)  # (n, S, T)
    return np.einsum("cs,nst->nct", subject.effects.mixing, activity)


def residual_windows(subject: SubjectSimulation, cfg: SimulateConfig) -> np.ndarray:
    """Oracle windows of single trials' deviations from their expected responses.

    Each window is a fresh draw of the effects for a random stimulus in a random run of the
    subject, minus that stimulus's expected response, with the channel faults' signal gain.

    Parameters
    ----------
    subject : SubjectSimulation
        With ``effects``.
    cfg : SimulateConfig

    Returns
    -------
    ndarray, shape (oracle.n_noise_epochs, n_channels, n_times)
    """
    effects = subject.effects
    rng = make_rng(cfg.seed, "oracle trial effects", subject.index)
    count = cfg.oracle.n_noise_epochs
    stimuli = rng.integers(len(effects.sources), size=count)
    draws = draw_trials(effects, rng.integers(len(effects.run_gains), size=count), rng)
    n_channels, n_times = subject.evoked.shape[1:]
    chunk = max(1, RESIDUAL_CHUNK // (n_channels * (n_times + 2 * int(MARGIN * cfg.sfreq))))
    windows = []
    for first in range(0, count, chunk):
        rows = np.arange(first, min(first + chunk, count))
        trials = np.stack([effects.response(stimuli[row], draws, row) for row in rows])
        deviations = trials - expected_responses(subject, stimuli[rows])  # (n, C, T)
        deviations = subject.noise.signal_gain[:, None] * deviations
        windows.append(represent_responses(deviations, cfg.sfreq, cfg.oracle))
    return np.concatenate(windows)


def unit_noise_covariance(windows: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf covariance in noise units, returned in the SI units of ``windows``.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, n_channels, n_times)
        SI units.
    units : ndarray, shape (n_channels,)
        SI value of one noise unit on each channel.

    Returns
    -------
    ndarray, shape (n_channels * n_times, n_channels * n_times)
    """
    covariance = noise_covariance(windows / units[None, :, None])
    flat = np.repeat(units, windows.shape[2])  # (n_channels * n_times,) channel-major
    return covariance * np.outer(flat, flat)


def make_oracle(
    subject: SubjectSimulation, recording: np.ndarray, stimuli: pd.DataFrame, cfg: SimulateConfig
) -> OracleData:
    """Gather one subject's oracle inputs.

    Parameters
    ----------
    subject : SubjectSimulation
    recording : ndarray, shape (n_channels, n_samples)
        The subject's recorded session (from :func:`pipeline.simulate.recording.record`).
    stimuli : pandas.DataFrame
        The stimulus table (columns stimulus_id, split), rows in ``subject.evoked`` order.
    cfg : SimulateConfig

    Returns
    -------
    OracleData
        In the sensor space, or in the evoked subspace for more than ``MAX_SENSOR_CHANNELS``
        channels.
    """
    test = np.flatnonzero(stimuli["split"].to_numpy() == "test")
    expected = expected_responses(subject, test)  # (n_test, C, T)
    evoked = subject.noise.signal_gain[:, None] * expected
    trials = subject.schedule[subject.schedule["split"] == "test"]
    templates = represent_responses(evoked, cfg.sfreq, cfg.oracle)  # (n_test, C, t)
    recorded = represent(recording, cfg.sfreq, trials["sample"].to_numpy(), cfg.oracle)
    windows = noise_windows(subject, cfg)  # (n_noise_epochs, C, t)
    if subject.effects is not None:
        windows = windows + residual_windows(subject, cfg)
    units = subject.noise.units  # (C,)
    space = "sensors"
    if subject.noise.n_channels > MAX_SENSOR_CHANNELS:
        projections = evoked_subspace(subject, windows / units[None, :, None])  # (t, r, C)
        templates, recorded, windows = (
            project(data, projections, units) for data in (templates, recorded, windows)
        )
        noise_cov = noise_covariance(windows)
        space = "evoked subspace"
    else:
        noise_cov = unit_noise_covariance(windows, units)
    return OracleData(
        templates=templates,
        stimulus_ids=stimuli["stimulus_id"].to_numpy()[test].astype(str),
        trials=recorded,
        trial_stimulus_ids=trials["stimulus_id"].to_numpy().astype(str),
        noise_cov=noise_cov,
        space=space,
    )


def write_oracle(oracle: OracleData, path: Path) -> None:
    """Write one subject's oracle inputs as an ``.npz`` file (float64 arrays, str ids)."""
    np.savez(
        path,
        templates=oracle.templates.astype(np.float64),
        stimulus_ids=oracle.stimulus_ids,
        trials=oracle.trials.astype(np.float64),
        trial_stimulus_ids=oracle.trial_stimulus_ids,
        noise_cov=oracle.noise_cov.astype(np.float64),
    )


def oracle_description(cfg: OracleConfig, space: str = "sensors") -> dict[str, object]:
    """The contents of ``oracle.json`` (``space``: "sensors" or "evoked subspace")."""
    return {
        "sfreq": cfg.sfreq,
        "tmin": cfg.tmin,
        "tmax": cfg.tmax,
        "n_noise_epochs": cfg.n_noise_epochs,
        "space": space,
        "description": (
            "Raw sensor data (SI units) low-passed with a zero-phase Butterworth filter at "
            f"{LOWPASS_RATIO} x sfreq and sampled at sfreq from tmin to tmax (excluded) after "
            "each onset. templates: noiseless responses of the test stimuli; trials: recorded "
            "test trials; noise_cov: Ledoit-Wolf covariance (shrunk in noise units) of "
            "single-trial noise estimated "
            "from n_noise_epochs windows of a separate noise-only recording of the same "
            "subject, flattened channel-major. space 'evoked subspace' (many channels): the "
            "time axis holds each window's DCT coefficients and the channels, per coefficient, "
            "the noise-whitened projections on the evoked sources' gains "
            "(pipeline.simulate.oracle)."
        ),
    }
