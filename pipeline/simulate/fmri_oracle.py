"""What the Bayes-optimal oracle needs on simulated fMRI, in the format of the M/EEG oracle.

Representation: single-trial least-squares-separate betas (percent signal change) of
``fmri.oracle_voxels`` voxels, computed with the subject's TRUE HRF and the true nuisance
regressors (cosine drift below ``HIGH_PASS`` Hz and the physiological regressors) by
:func:`pipeline.preprocess.fmri_glm.lss_betas`; arrays are ``(n, n_voxels, 1)`` (one "time").

- voxels: the ``oracle_voxels`` voxels whose amplitudes vary most over the TRAINING stimuli
  (a subset keeps the covariance estimable; using fewer voxels can only lower the oracle,
  so it is a lower bound on the Gaussian ideal observer of all voxels' betas);
- templates: the true amplitudes of the test stimuli at those voxels;
- trials: the LSS betas of the recorded test trials;
- noise_cov: Ledoit-Wolf covariance of single-trial estimation errors (beta minus true
  amplitude) from ``oracle_noise_runs`` extra runs of the same subject (fresh noise and design,
  training stimuli), so it includes the noise and the leakage of neighbouring trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.preprocess.fmri_glm import event_regressors, lss_betas, nuisance_matrix
from pipeline.simulate.fmri_design import n_frames, run_onsets, trials_per_run
from pipeline.simulate.fmri_subject import FmriSubject, simulate_run
from pipeline.simulate.oracle import OracleData, noise_covariance
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import FmriConfig, SimulateConfig

HIGH_PASS = 0.01  # Hz, cosine drift regressors of the oracle's GLM


@dataclass(frozen=True)
class RecordedRun:
    """One run as the oracle sees it.

    Attributes
    ----------
    events : pandas.DataFrame
        stimulus_index, stimulus_id, split, onset, duration.
    data : ndarray, shape (n_frames, n_oracle_voxels)
        Percent signal change at the oracle's voxels.
    physio : ndarray, shape (n_frames, 8)
        The physiological regressors.
    """

    events: pd.DataFrame
    data: np.ndarray
    physio: np.ndarray


def select_voxels(subject: FmriSubject, stimuli: pd.DataFrame, n_voxels: int) -> np.ndarray:
    """The ``n_voxels`` voxels of largest amplitude variance over training stimuli (sorted)."""
    train = subject.amplitudes[stimuli["split"].to_numpy() == "train"]  # (N_train, V)
    order = np.argsort(train.var(axis=0))[::-1]
    return np.sort(order[: min(n_voxels, train.shape[1])])


def oracle_betas(subject: FmriSubject, run: RecordedRun) -> np.ndarray:
    """LSS betas of a run's trials with the true HRF and nuisance. Returns (N, n_voxels)."""
    tr = subject.noise.tr
    frame_times = np.arange(len(run.data)) * tr
    regressors = event_regressors(run.events["onset"].to_numpy(float),
                                  run.events["duration"].to_numpy(float), frame_times, tr,
                                  subject.hrf_onset)
    return lss_betas(run.data, regressors, nuisance_matrix(frame_times, HIGH_PASS, run.physio))


def noise_errors(subject: FmriSubject, voxels: np.ndarray, stimuli: pd.DataFrame,
                 cfg: SimulateConfig) -> np.ndarray:
    """Single-trial estimation errors from extra runs of training stimuli.

    Returns
    -------
    ndarray, shape (n_errors, n_voxels)
    """
    fmri: FmriConfig = cfg.fmri
    train = np.flatnonzero(stimuli["split"].to_numpy() == "train")
    count = trials_per_run(fmri)
    errors = []
    for part in range(fmri.oracle_noise_runs):
        rng = make_rng(cfg.seed, "fmri oracle run", subject.index, part)
        shown = rng.choice(train, size=count, replace=len(train) < count)
        onsets = run_onsets(count, fmri, rng)
        events = pd.DataFrame({"stimulus_index": shown, "onset": onsets,
                               "duration": fmri.event_duration})
        data, physio = simulate_run(subject, events, n_frames(onsets, fmri), rng, voxels)
        betas = oracle_betas(subject, RecordedRun(events, data, physio))
        errors.append(betas - subject.amplitudes[shown][:, voxels])
    return np.concatenate(errors)


def make_fmri_oracle(subject: FmriSubject, runs: list[RecordedRun], voxels: np.ndarray,
                     stimuli: pd.DataFrame, cfg: SimulateConfig) -> OracleData:
    """Gather one subject's oracle inputs (see the module docstring).

    Parameters
    ----------
    subject : FmriSubject
    runs : list of RecordedRun
        The subject's recorded runs, at ``voxels``.
    voxels : ndarray of int, shape (n_voxels,)
        From :func:`select_voxels`.
    stimuli : pandas.DataFrame
        The stimulus table (stimulus_id, split), rows in ``subject.amplitudes`` order.
    cfg : SimulateConfig

    Returns
    -------
    OracleData
    """
    test = np.flatnonzero(stimuli["split"].to_numpy() == "test")
    betas, ids = [], []
    for run in runs:
        keep = run.events["split"].to_numpy() == "test"
        betas.append(oracle_betas(subject, run)[keep])
        ids.append(run.events["stimulus_id"].to_numpy()[keep])
    errors = noise_errors(subject, voxels, stimuli, cfg)  # (n, K)
    return OracleData(
        templates=subject.amplitudes[test][:, voxels, None],
        stimulus_ids=stimuli["stimulus_id"].to_numpy()[test].astype(str),
        trials=np.concatenate(betas)[:, :, None],
        trial_stimulus_ids=np.concatenate(ids).astype(str),
        noise_cov=noise_covariance(errors[:, :, None]),
    )


def fmri_oracle_description(cfg: FmriConfig) -> dict[str, object]:
    """The contents of ``oracle.json`` for the fMRI study."""
    return {
        "representation": "lss_betas",
        "n_voxels": cfg.oracle_voxels,
        "n_noise_runs": cfg.oracle_noise_runs,
        "high_pass": HIGH_PASS,
        "description": (
            "Single-trial least-squares-separate betas (percent signal change) computed with "
            "each subject's true HRF and true nuisance regressors (cosine drift below high_pass "
            "Hz, physiological regressors), at the n_voxels voxels whose amplitudes vary most "
            "over training stimuli; arrays are (n, n_voxels, 1). templates: true amplitudes "
            "of the test stimuli; trials: betas of the recorded test trials; noise_cov: "
            "Ledoit-Wolf covariance of beta minus true amplitude over the trials of "
            "n_noise_runs extra runs of training stimuli (noise and trial leakage). Restricting "
            "to a voxel subset makes the oracle a lower bound on the ideal observer of all "
            "voxels' betas."
        ),
    }
