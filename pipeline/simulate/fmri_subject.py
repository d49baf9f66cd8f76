"""One simulated fMRI subject: response amplitudes per voxel, noise, design; its runs.

A stimulus's response amplitude at a voxel (percent signal change, the beta of the canonical
HRF regressor) is ``sum_m c_m(z) map_m(voxel)``: ``c_m`` are the readouts of
:mod:`pipeline.simulate.responses` (``tanh(w . z + b)``, the same fixed readouts as the
M/EEG simulator's sources), ``map_m`` the subject's blob maps
(:mod:`pipeline.simulate.fmri_voxels`). Each event's response is its amplitude times the event
boxcar convolved with the subject's HRF (nilearn's Glover HRF shifted by the subject's
``hrf_onset``).

``snr`` is defined per voxel of the occipito-temporal region, for a subject of gain 1: the RMS
over stimuli and region voxels of the peak of a single event's response, divided by the
expected RMS of the total noise (:class:`pipeline.simulate.fmri_noise.FmriNoiseModel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.preprocess.fmri_glm import event_regressors
from pipeline.simulate.fmri_design import fmri_schedule
from pipeline.simulate.fmri_noise import FmriNoiseModel, make_noise_model, noise_run
from pipeline.simulate.fmri_voxels import VoxelGrid, blob_maps, smooth_fields
from pipeline.simulate.responses import ResponseModel, source_amplitudes
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import FmriConfig, SimulateConfig
    from pipeline.simulate.stimuli import Stimuli

GAIN_SD = 0.15  # standard deviation of the log of each subject's response gain
BASELINE = 1000.0  # mean BOLD intensity (arbitrary scanner units)
BASELINE_SPREAD = 0.15  # relative spatial variation of the baseline intensity
BASELINE_FWHM = 30.0  # mm


@dataclass(frozen=True)
class FmriSubject:
    """Everything that defines one simulated fMRI subject.

    Attributes
    ----------
    index : int
        0-based subject index.
    gain : float
        The subject's response gain.
    hrf_onset : float
        Shift of the subject's HRF (s).
    amplitudes : ndarray, shape (n_stimuli, n_voxels)
        Response amplitude of each stimulus (percent signal change), gain included.
    baseline : ndarray, shape (n_voxels,)
        Mean intensity of each voxel.
    noise : FmriNoiseModel
    schedule : pandas.DataFrame
        The trials (:func:`pipeline.simulate.fmri_design.fmri_schedule`).
    """

    index: int
    gain: float
    hrf_onset: float
    amplitudes: np.ndarray
    baseline: np.ndarray
    noise: FmriNoiseModel
    schedule: pd.DataFrame

    @property
    def label(self) -> str:
        """BIDS subject label: "01", "02", ..."""
        return f"{self.index + 1:02d}"


def component_amplitudes(model: ResponseModel, latents: np.ndarray) -> np.ndarray:
    """The readouts ``tanh(w . z + b)`` of every source component for each stimulus.

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources * n_components)
    """
    amplitudes = source_amplitudes(model, latents)  # (N, S, K)
    return amplitudes.reshape(len(amplitudes), -1)


def event_peak(cfg: FmriConfig) -> float:
    """Peak of the canonical response to one event of ``event_duration`` (unit amplitude)."""
    times = np.arange(0.0, 32.0, 0.05)
    regressor = event_regressors(np.zeros(1), np.array([cfg.event_duration]), times, cfg.tr)
    return float(regressor.max())


def make_fmri_subject(cfg: SimulateConfig, grid: VoxelGrid, components: np.ndarray,
                      blobs: tuple[np.ndarray, np.ndarray], stimuli: Stimuli, index: int
                      ) -> FmriSubject:
    """Draw one subject: gain, HRF shift, displaced maps, noise model and design.

    Parameters
    ----------
    cfg : SimulateConfig
    grid : VoxelGrid
    components : ndarray, shape (n_stimuli, n_maps)
        :func:`component_amplitudes` of every stimulus.
    blobs : tuple of ndarray
        Template blob centres (n_maps, n_blobs, 3) and weights (n_maps, n_blobs).
    stimuli : Stimuli
    index : int
        0-based subject index.

    Returns
    -------
    FmriSubject
    """
    rng = make_rng(cfg.seed, "fmri subject", index)
    fmri = cfg.fmri
    gain = float(np.exp(GAIN_SD * rng.standard_normal()))
    hrf_onset = float(fmri.hrf_onset_jitter * rng.standard_normal())
    centres, weights = blobs
    centres = centres + fmri.map_jitter * rng.standard_normal(centres.shape)
    responses = components @ blob_maps(grid, centres, weights, fmri.blob_fwhm)  # (N, V)
    noise = make_noise_model(fmri.noise, fmri.tr, grid, rng)
    region_rms = np.sqrt(np.mean(responses[:, grid.region] ** 2))
    scale = cfg.snr * noise.rms / (event_peak(fmri) * region_rms)
    variation = smooth_fields(grid, 1, BASELINE_FWHM, rng)[0]
    baseline = BASELINE * np.clip(1.0 + BASELINE_SPREAD * variation, 0.5, None)
    schedule = fmri_schedule(stimuli.table, cfg, make_rng(cfg.seed, "fmri schedule", index))
    return FmriSubject(index, gain, hrf_onset, responses * (scale * gain), baseline, noise,
                       schedule)


def simulate_run(subject: FmriSubject, events: pd.DataFrame, n_frames: int,
                 rng: np.random.Generator, voxels: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one run of ``subject`` (percent signal change, before the baseline).

    Parameters
    ----------
    subject : FmriSubject
    events : pandas.DataFrame
        stimulus_index, onset, duration.
    n_frames : int
    rng : numpy.random.Generator
        The run's stream.
    voxels : ndarray of int, optional
        Simulate only these voxels (all by default).

    Returns
    -------
    data : ndarray, shape (n_frames, n_voxels)
        Responses plus noise, percent signal change.
    regressors : ndarray, shape (n_frames, 8)
        The physiological regressors of the run.
    """
    voxels = np.arange(subject.amplitudes.shape[1]) if voxels is None else voxels
    tr = subject.noise.tr
    regressors = event_regressors(
        events["onset"].to_numpy(float), events["duration"].to_numpy(float),
        np.arange(n_frames) * tr, tr, subject.hrf_onset,
    )  # (T, N)
    signal = regressors @ subject.amplitudes[events["stimulus_index"].to_numpy()][:, voxels]
    noise, physio = noise_run(subject.noise.subset(voxels), n_frames, rng)
    return signal + noise, physio
