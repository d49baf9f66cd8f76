"""The Bayes-optimal (Gaussian) oracle: the best any decoder can do on simulated data.

The simulator knows each test stimulus's noiseless sensor response (its template) and the
covariance of the single-trial noise, so the posterior-optimal identification of a trial
``x`` among the gallery ranks the templates ``mu_k`` by their Gaussian log-likelihood
``-(x - mu_k)^T P (x - mu_k)``, with ``P`` the inverse noise covariance (divided by the
number of trials when repetitions are averaged).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg

from pipeline.errors import DataError
from pipeline.evaluation.retrieval import RetrievalScores
from pipeline.io import require_file

logger = logging.getLogger(__name__)

ORACLE_KEYS = ("templates", "stimulus_ids", "trials", "trial_stimulus_ids", "noise_cov")
MAX_RELATIVE_RIDGE = 1e-3


def oracle_path(oracle_dir: str | Path, subject: str) -> Path:
    """Return the oracle file of ``subject`` ("01" or "sub-01")."""
    return Path(oracle_dir) / f"sub-{subject.removeprefix('sub-')}_oracle.npz"


def read_oracle(path: str | Path) -> dict[str, np.ndarray]:
    """Read one subject's oracle file and check the shapes of its arrays.

    Returns
    -------
    dict of str to ndarray
        templates (n_stimuli, n_chans, n_times), stimulus_ids (n_stimuli,),
        trials (n_trials, n_chans, n_times), trial_stimulus_ids (n_trials,),
        noise_cov (n_chans * n_times, n_chans * n_times).

    Raises
    ------
    DataError
        If the file is missing, unreadable, lacks an array or the shapes disagree.
    """
    path = require_file(path, "a subject's oracle arrays (npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in ORACLE_KEYS if key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable oracle npz ({exc})") from None
    missing = [key for key in ORACLE_KEYS if key not in data]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; expected {list(ORACLE_KEYS)}")
    templates = data["templates"]
    if templates.ndim != 3:
        raise DataError(
            f"{path}: templates has shape {templates.shape}; expected (n_stimuli, n_chans, n_times)"
        )
    n_features = templates.shape[1] * templates.shape[2]
    expected = {
        "stimulus_ids": (templates.shape[0],),
        "trials": (len(data["trial_stimulus_ids"]), *templates.shape[1:]),
        "noise_cov": (n_features, n_features),
    }
    for key, shape in expected.items():
        if data[key].shape != shape:
            raise DataError(f"{path}: {key} has shape {data[key].shape}; expected {shape}")
    return {
        **data,
        "stimulus_ids": data["stimulus_ids"].astype(str),
        "trial_stimulus_ids": data["trial_stimulus_ids"].astype(str),
    }


def whitener(noise_cov: np.ndarray, source: str = "noise_cov") -> np.ndarray:
    """Return the lower Cholesky factor ``L`` of the noise covariance (``L L^T = cov``).

    A ridge of growing size (relative to the mean variance) is added only if the
    covariance is not numerically positive definite.

    Raises
    ------
    DataError
        If even the largest ridge does not make the covariance positive definite.
    """
    noise_cov = np.asarray(noise_cov, dtype=np.float64)  # (D, D)
    scale = float(np.mean(np.diag(noise_cov)))
    for relative in (0.0, 1e-10, 1e-8, 1e-6, 1e-4, MAX_RELATIVE_RIDGE):
        ridge = relative * scale
        try:
            factor = scipy.linalg.cholesky(
                noise_cov + ridge * np.eye(len(noise_cov)), lower=True, check_finite=True
            )
        except (np.linalg.LinAlgError, ValueError):
            continue
        if relative:
            logger.info("%s: added a ridge of %.1e x the mean variance", source, relative)
        return factor
    raise DataError(
        f"{source}: not positive definite even with a ridge of {MAX_RELATIVE_RIDGE} x the mean "
        "variance; expected a noise covariance"
    )


def gaussian_scores(
    queries: np.ndarray, n_trials: np.ndarray, templates: np.ndarray, factor: np.ndarray
) -> np.ndarray:
    """Gaussian log-likelihood scores ``-n (x - mu_k)^T cov^-1 (x - mu_k)``.

    Parameters
    ----------
    queries : ndarray, shape (n_query, D)
        Trial means, flattened channel-major.
    n_trials : ndarray, shape (n_query,)
        Number of trials averaged in each query (the noise covariance is cov / n).
    templates : ndarray, shape (n_gallery, D)
        Noiseless responses, flattened the same way.
    factor : ndarray, shape (D, D)
        Lower Cholesky factor of the single-trial noise covariance.

    Returns
    -------
    ndarray, shape (n_query, n_gallery)
    """
    white_queries = scipy.linalg.solve_triangular(factor, queries.T, lower=True).T  # (n_query, D)
    white_templates = scipy.linalg.solve_triangular(factor, templates.T, lower=True).T  # (n_g, D)
    distances = (
        (white_queries**2).sum(axis=1)[:, None]
        - 2 * white_queries @ white_templates.T
        + (white_templates**2).sum(axis=1)[None, :]
    )  # (n_query, n_gallery)
    return -n_trials[:, None] * distances


def _subject_queries(
    oracle: dict[str, np.ndarray], gallery: Sequence[str], average_repetitions: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the subject's queries (n_query, D), trials per query and true stimulus ids."""
    keep = np.isin(oracle["trial_stimulus_ids"], list(gallery))
    trials = oracle["trials"][keep].reshape(int(keep.sum()), -1).astype(np.float64)  # (n, D)
    stimulus_ids = oracle["trial_stimulus_ids"][keep]  # (n,)
    if not average_repetitions:
        return trials, np.ones(len(trials)), stimulus_ids
    codes, uniques = pd.factorize(stimulus_ids, sort=True)
    counts = np.bincount(codes, minlength=len(uniques))  # (n_query,)
    sums = np.zeros((len(uniques), trials.shape[1]))  # (n_query, D)
    np.add.at(sums, codes, trials)
    return sums / counts[:, None], counts.astype(np.float64), np.asarray(uniques, dtype=str)


def oracle_scores(
    oracle_dir: str | Path,
    gallery: Sequence[str],
    subjects: Sequence[str],
    average_repetitions: bool,
) -> RetrievalScores:
    """Score each subject's test trials against the gallery with the Bayes-optimal oracle.

    Parameters
    ----------
    oracle_dir : str or Path
        ``derivatives/oracle`` of a simulated study (``sub-XX_oracle.npz`` per subject).
    gallery : sequence of str
        The test stimulus ids, in the decoder's gallery order.
    subjects : sequence of str
        The subjects to score ("01", ...), as in the predictions' trials table.
    average_repetitions : bool
        If true, one query per (subject, stimulus), the mean of its repetitions, scored
        with the noise covariance divided by the number of repetitions; else one per trial.

    Returns
    -------
    RetrievalScores
        Queries of all subjects stacked, with the decoder's gallery columns.

    Raises
    ------
    DataError
        If a subject's file is missing or malformed, or lacks a gallery stimulus.
    """
    gallery = tuple(gallery)
    blocks = []
    for subject in subjects:
        path = oracle_path(oracle_dir, subject)
        oracle = read_oracle(path)
        row_of = {stimulus: row for row, stimulus in enumerate(oracle["stimulus_ids"])}
        missing = [stimulus for stimulus in gallery if stimulus not in row_of]
        if missing:
            raise DataError(f"{path}: no template for test stimuli {missing[:5]}; expected all")
        templates = oracle["templates"][[row_of[stimulus] for stimulus in gallery]]
        templates = templates.reshape(len(gallery), -1).astype(np.float64)  # (n_gallery, D)
        queries, n_trials, query_stimulus = _subject_queries(oracle, gallery, average_repetitions)
        factor = whitener(oracle["noise_cov"], source=f"{path}: noise_cov")
        scores = gaussian_scores(queries, n_trials, templates, factor)  # (n_query, n_gallery)
        blocks.append((scores, query_stimulus, subject))
        logger.info("oracle: subject %s, %d queries", subject, len(queries))
    column_of = {stimulus: column for column, stimulus in enumerate(gallery)}
    query_stimulus = np.concatenate([stimuli for _, stimuli, _ in blocks])
    return RetrievalScores(
        scores=np.concatenate([scores for scores, _, _ in blocks]),
        true_index=np.array([column_of[stim] for stim in query_stimulus], dtype=np.int64),
        query_stimulus=query_stimulus,
        query_subject=np.concatenate(
            [np.full(len(stimuli), subject, dtype=object) for _, stimuli, subject in blocks]
        ).astype(str),
        gallery=gallery,
    )
