"""One subject's simulated session: evoked responses at the sensors, plus noise.

The signal-to-noise ratio ``snr`` is defined at the sensors, on the good channels, for a
subject of response gain 1: the RMS of the noiseless evoked responses (over all stimuli of
the study, all good channels and each response's duration from its onset) divided by the
expected RMS of the total noise (``NoiseModel.rms`` in :mod:`pipeline.simulate.noise`, all
nuisance components together), both in noise units (so channel types of different SI
units, MEG magnetometers and gradiometers, count alike). Each subject's responses are then
multiplied by its own response gain, so its effective snr is ``snr * response_gain``.

When a single-trial effect is on (latency jitter, amplitude variability, induced bursts,
run drift: :mod:`pipeline.simulate.trial_effects`), each trial's response is drawn from
them instead of repeating the stimulus's noiseless response; the snr keeps its definition
(on the noiseless evoked responses, without the effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.simulate.faults import apply_channel_faults
from pipeline.simulate.forward import Head, HeadTemplate, make_head
from pipeline.simulate.noise import NoiseModel, background, make_noise_model
from pipeline.simulate.schedule import recording_samples, trial_schedule
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.trial_effects import (
    TrialEffects,
    draw_trials,
    make_trial_effects,
    schedule_runs,
    trial_effects_active,
)

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig


@dataclass(frozen=True)
class SubjectSimulation:
    """Everything that defines one simulated subject.

    Attributes
    ----------
    index : int
        0-based subject index.
    head : Head
    noise : NoiseModel
    evoked : ndarray, shape (n_stimuli, n_channels, n_times)
        Noiseless response to each stimulus (rows in stimulus-table order), SI units,
        before channel faults.
    schedule : pandas.DataFrame
        The trial sequence (see :func:`pipeline.simulate.schedule.trial_schedule`).
    effects : TrialEffects or None
        The single-trial effects; None when all are off (every trial is ``evoked``).
    """

    index: int
    head: Head
    noise: NoiseModel
    evoked: np.ndarray
    schedule: pd.DataFrame
    effects: TrialEffects | None = None

    @property
    def label(self) -> str:
        """BIDS subject label: "01", "02", ..."""
        return f"{self.index + 1:02d}"


def simulate_subject(
    cfg: SimulateConfig,
    template: HeadTemplate,
    sources: np.ndarray,
    stimuli: pd.DataFrame,
    subject_index: int,
) -> SubjectSimulation:
    """Build one subject: head, noise model, scaled evoked responses and trial schedule.

    Parameters
    ----------
    cfg : SimulateConfig
    template : HeadTemplate
    sources : ndarray, shape (n_stimuli, n_sources, n_times)
        The evoked sources' activity from each stimulus onset (the same for every subject).
    stimuli : pandas.DataFrame
        The stimulus table, rows in ``sources`` order.
    subject_index : int
        0-based.

    Returns
    -------
    SubjectSimulation
    """
    sources_cfg = cfg.subject_sources
    head = make_head(template, cfg.seed, subject_index,
                     (sources_cfg.position_mm / 1000.0, sources_cfg.orientation_deg))
    noise = make_noise_model(cfg.noise, cfg.sfreq, template, head, cfg.seed, subject_index)
    gain = head.gains["evoked"] / noise.gain_scale[:, None]  # (C, S) noise units per A m
    evoked = np.einsum("cs,nst->nct", gain, sources)  # (N, C, T) noise units
    evoked_rms = np.sqrt(np.mean(evoked[:, noise.good] ** 2))
    scale = head.response_gain * cfg.snr * noise.rms / evoked_rms
    evoked = noise.units[:, None] * evoked * scale  # (N, C, T) SI units
    schedule = trial_schedule(stimuli, cfg, subject_index)
    effects = None
    if trial_effects_active(cfg):
        mixing = noise.units[:, None] * gain * scale  # (C, S) SI units per source unit
        effects = make_trial_effects(cfg, sources, mixing, subject_index)
    return SubjectSimulation(subject_index, head, noise, evoked, schedule, effects)


def trial_responses(subject: SubjectSimulation, seed: int) -> list[np.ndarray]:
    """Each trial's noiseless response, in schedule order (drawn when effects are on).

    Returns
    -------
    list of ndarray, shape (n_channels, n_times)
    """
    indices = subject.schedule["stimulus_index"].to_numpy()
    if subject.effects is None:
        return [subject.evoked[index] for index in indices]
    runs = schedule_runs(len(indices), len(subject.effects.run_gains))
    draws = draw_trials(subject.effects, runs, make_rng(seed, "trial effects", subject.index))
    return [subject.effects.response(index, draws, trial) for trial, index in enumerate(indices)]


def evoked_signal(subject: SubjectSimulation, n_samples: int, seed: int) -> np.ndarray:
    """The noiseless recording: every trial's response at its onset. Returns (C, n_samples)."""
    signal = np.zeros((subject.noise.n_channels, n_samples))
    n_times = subject.evoked.shape[-1]
    for response, start in zip(
        trial_responses(subject, seed), subject.schedule["sample"], strict=True
    ):
        signal[:, start : start + n_times] += response
    return signal


def record(subject: SubjectSimulation, seed: int) -> np.ndarray:
    """Simulate the continuous recording of one subject's session.

    Parameters
    ----------
    subject : SubjectSimulation
    seed : int
        The study seed.

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        SI units; ``n_samples`` from :func:`pipeline.simulate.schedule.recording_samples`.
    """
    n_samples = recording_samples(subject.schedule, subject.noise.sfreq, subject.evoked.shape[-1])
    rng = make_rng(seed, "recording", subject.index)
    data = evoked_signal(subject, n_samples, seed) + background(subject.noise, n_samples, rng)
    return apply_channel_faults(subject.noise, data, rng)


def record_noise(subject: SubjectSimulation, n_samples: int, seed: int, part: int) -> np.ndarray:
    """A noise-only recording of the same subject (same noise model and bad channels).

    Parameters
    ----------
    subject : SubjectSimulation
    n_samples : int
    seed : int
        The study seed.
    part : int
        Selects an independent stretch of noise.

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        SI units.
    """
    rng = make_rng(seed, "noise recording", subject.index, part)
    return apply_channel_faults(subject.noise, background(subject.noise, n_samples, rng), rng)
