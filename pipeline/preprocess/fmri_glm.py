"""Single-trial estimates of fMRI responses: HRF regressors, nuisance, LSS, LSA, lagged means.

``ESTIMATORS`` maps ``preprocess.fmri.estimator`` to a function
``(data (T, V), frame_times (T,), events, nuisance (T, P), cfg) -> (estimates (N, V), events)``:

- ``lss``: least-squares-separate betas (Mumford et al. 2012), as NSD and THINGS-fMRI
  single-trial betas are made: for each trial, one GLM with that trial's regressor, one
  regressor of all other trials, and the nuisance regressors. All trials are solved at once
  (Frisch-Waugh-Lovell: data and regressors are first residualised on the nuisance, then each
  trial's 2 x 2 normal equations are written in terms of the trials' Gram matrix).
- ``lsa``: least-squares-all, one GLM with a regressor per trial (the direct full GLM).
- ``lagged``: the mean of the nuisance-cleaned volumes acquired ``lag_window`` seconds after
  each onset; with ``split_events`` one trial per volume of each event (blocked designs).

Regressors are event boxcars convolved with nilearn's canonical Glover HRF (unit area, so a
sustained response of amplitude 1 has a beta of 1), sampled at the frame times.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.preprocess.options import FmriPreprocessConfig

logger = logging.getLogger(__name__)

ESTIMATORS = Registry("single-trial estimator")

OVERSAMPLING = 50  # HRF samples per TR, as nilearn's default
HRF_LENGTH = 32.0  # seconds
RANK_TOLERANCE = np.finfo(np.float64).eps
DEGENERATE = 1e-10  # relative determinant below which a trial's 2 x 2 system is singular


def event_regressors(
    onsets: np.ndarray, durations: np.ndarray, frame_times: np.ndarray, tr: float,
    hrf_onset: float = 0.0,
) -> np.ndarray:
    """One HRF-convolved boxcar per event, sampled at the frame times.

    Parameters
    ----------
    onsets, durations : ndarray, shape (n_events,)
        Seconds; an event shorter than the fine grid step lasts one step.
    frame_times : ndarray, shape (n_frames,)
        Acquisition time of each volume (seconds, from 0).
    tr : float
        Repetition time (s); the fine grid step is ``tr / OVERSAMPLING``.
    hrf_onset : float
        Shift of the HRF (s); the simulator uses it for subjects whose HRF is late or early.

    Returns
    -------
    ndarray, shape (n_frames, n_events)
    """
    from nilearn.glm.first_level import glover_hrf  # nilearn imports in seconds: only when used

    step = tr / OVERSAMPLING
    hrf = glover_hrf(tr, OVERSAMPLING, HRF_LENGTH, hrf_onset)  # (H,), sums to 1
    n_fine = int(round(float(np.max(frame_times)) / step)) + 1
    start = np.round(np.asarray(onsets, float) / step).astype(np.int64)
    stop = np.maximum(start + 1, np.round((onsets + np.asarray(durations, float)) / step))
    fine = np.arange(n_fine)
    boxcars = ((fine >= start[:, None]) & (fine < stop[:, None])).astype(np.float64)  # (N, F)
    convolved = fftconvolve(boxcars, hrf[None, :], axes=1)[:, :n_fine]  # (N, F)
    frames = np.clip(np.round(np.asarray(frame_times) / step).astype(np.int64), 0, n_fine - 1)
    return np.ascontiguousarray(convolved[:, frames].T)  # (T, N)


def nuisance_matrix(
    frame_times: np.ndarray, high_pass: float | None, confounds: np.ndarray | None = None
) -> np.ndarray:
    """Cosine drift regressors below ``high_pass``, a constant, and the confounds.

    Parameters
    ----------
    frame_times : ndarray, shape (n_frames,)
    high_pass : float or None
        Hz (nilearn's cosine drift model); None keeps only the constant.
    confounds : ndarray, shape (n_frames, n_confounds), optional

    Returns
    -------
    ndarray, shape (n_frames, n_regressors)
        May be rank deficient (a confound collinear with the drift); :func:`residualize`
        handles that.
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    drift = make_first_level_design_matrix(
        np.asarray(frame_times, float),
        drift_model="cosine" if high_pass else None,
        high_pass=high_pass or 0.01,
    ).to_numpy(dtype=np.float64)  # (T, n_cosines + 1)
    if confounds is None or not confounds.shape[1]:
        return drift
    return np.concatenate([drift, np.asarray(confounds, np.float64)], axis=1)


def residualize(x: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """``x`` minus its least-squares fit on the nuisance columns. (T, K) -> (T, K).

    The fit projects on an orthonormal basis of the nuisance's column space (SVD, so
    collinear columns are harmless).
    """
    left, singular, _ = np.linalg.svd(nuisance, full_matrices=False)  # (T, P), (P,)
    basis = left[:, singular > singular.max() * max(nuisance.shape) * RANK_TOLERANCE]
    return x - basis @ (basis.T @ x)


def lss_betas(data: np.ndarray, regressors: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """Least-squares-separate betas of every trial, all trials solved together.

    For trial ``i`` the GLM is ``y = b_i r_i + c (s - r_i) + N g + e`` with ``s`` the sum of
    all trial regressors; ``b_i`` is the returned beta.

    Parameters
    ----------
    data : ndarray, shape (n_frames, n_voxels)
    regressors : ndarray, shape (n_frames, n_trials)
    nuisance : ndarray, shape (n_frames, n_nuisance)

    Returns
    -------
    ndarray, shape (n_trials, n_voxels)
    """
    y = residualize(np.asarray(data, np.float64), nuisance)  # (T, V)
    r = residualize(np.asarray(regressors, np.float64), nuisance)  # (T, N)
    gram = r.T @ r  # (N, N)
    ry = r.T @ y  # (N, V)
    own = np.diag(gram)  # a'a, (N,)
    cross = gram.sum(axis=1) - own  # a'b with b = s - r_i, (N,)
    other = gram.sum() - 2 * gram.sum(axis=1) + own  # b'b, (N,)
    other_y = ry.sum(axis=0)[None, :] - ry  # b'y, (N, V)
    det = own * other - cross**2  # (N,)
    single = det <= DEGENERATE * own * np.maximum(other, 1e-300)  # b ~ 0: a one-trial run
    safe = np.where(single, 1.0, det)
    betas = (other[:, None] * ry - cross[:, None] * other_y) / safe[:, None]  # (N, V)
    return np.where(single[:, None], ry / own[:, None], betas)


def lsa_betas(data: np.ndarray, regressors: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """Least-squares-all betas: one GLM with every trial regressor and the nuisance.

    Parameters and returns as :func:`lss_betas`.
    """
    design = np.concatenate([regressors, nuisance], axis=1)  # (T, N + P)
    solver = np.linalg.pinv(design)[: regressors.shape[1]]  # (N, T), minimum-norm least squares
    return solver @ np.asarray(data, np.float64)  # (N, V)


def _glm(solver):
    """Wrap a GLM solver as an estimator on the events' canonical-HRF regressors."""

    def estimate(data, frame_times, events, nuisance, cfg):
        tr = float(frame_times[1] - frame_times[0])
        regressors = event_regressors(
            events["onset"].to_numpy(float), events["duration"].to_numpy(float), frame_times, tr
        )  # (T, N)
        seen = np.abs(regressors).max(axis=0) > 0  # events after the last volume are not
        if not seen.all():
            logger.warning("%d event(s) start after the last volume; dropped", int((~seen).sum()))
        kept = events[seen].reset_index(drop=True)
        return solver(data, regressors[:, seen], nuisance), kept

    estimate.__doc__ = f"Estimator of :func:`{solver.__name__}` (canonical Glover HRF)."
    return estimate


ESTIMATORS.register("lss")(_glm(lss_betas))
ESTIMATORS.register("lsa")(_glm(lsa_betas))


def lagged_trials(
    events: pd.DataFrame, frame_times: np.ndarray, cfg: FmriPreprocessConfig
) -> tuple[pd.DataFrame, np.ndarray]:
    """The volumes averaged for each trial of the lagged estimator.

    Returns
    -------
    trials : DataFrame
        The events kept (with ``split_events``: one row per volume, its onset the volume's
        acquisition time minus the lag); events with no volume in their window are dropped.
    weights : ndarray, shape (n_trials, n_frames)
        Each row averages that trial's volumes.
    """
    start, end = cfg.lag_window
    onsets = events["onset"].to_numpy(float)[:, None]  # (N, 1)
    if cfg.split_events:
        stop = onsets + np.maximum(events["duration"].to_numpy(float)[:, None], 0.0)
        inside = (frame_times >= onsets + start) & (frame_times < stop + start)  # (N, T)
        event_index, frame_index = np.nonzero(inside)
        trials = events.iloc[event_index].reset_index(drop=True)
        trials["onset"] = frame_times[frame_index] - start
        weights = np.zeros((len(trials), len(frame_times)))
        weights[np.arange(len(trials)), frame_index] = 1.0
        return trials, weights
    inside = (frame_times >= onsets + start) & (frame_times < onsets + end)  # (N, T)
    counts = inside.sum(axis=1)
    if (counts == 0).any():
        logger.warning("%d event(s) have no volume %s s after onset; dropped",
                       int((counts == 0).sum()), list(cfg.lag_window))
    keep = counts > 0
    weights = inside[keep] / counts[keep, None]
    return events[keep].reset_index(drop=True), weights


@ESTIMATORS.register("lagged")
def lagged_means(data, frame_times, events, nuisance, cfg):
    """Means of the nuisance-cleaned volumes in each trial's lag window (:func:`lagged_trials`)."""
    clean = residualize(np.asarray(data, np.float64), nuisance)  # (T, V)
    trials, weights = lagged_trials(events, frame_times, cfg)
    return weights @ clean, trials  # (N, V)
