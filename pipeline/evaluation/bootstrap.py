"""Confidence intervals by bootstrap over test stimuli."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(
    values: np.ndarray,
    groups: np.ndarray,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of the mean of per-query values, resampling stimuli.

    Each resample draws the unique stimuli with replacement, keeps all the queries of the
    drawn stimuli (as many times as the stimulus was drawn), and takes their mean. With the
    same ``seed`` and the same set of stimuli, two models are resampled identically.

    Parameters
    ----------
    values : ndarray, shape (n_query,)
        The per-query metric values.
    groups : ndarray, shape (n_query,)
        The stimulus id of each query.
    n_bootstrap : int
        Number of resamples.
    confidence : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the resampling.

    Returns
    -------
    tuple of float
        The lower and upper bounds.
    """
    values = np.asarray(values, dtype=np.float64)  # (n_query,)
    groups = np.asarray(groups)  # (n_query,)
    if values.ndim != 1 or groups.shape != values.shape or values.size == 0:
        raise ValueError(
            f"got values of shape {values.shape} and groups of shape {groups.shape}; "
            "expected two equal non-empty 1-D arrays"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"got confidence={confidence}; expected a value in (0, 1)")
    if n_bootstrap < 1:
        raise ValueError(f"got n_bootstrap={n_bootstrap}; expected at least 1")
    _, group_index = np.unique(groups, return_inverse=True)
    n_groups = int(group_index.max()) + 1
    sums = np.bincount(group_index, weights=values, minlength=n_groups)  # (n_groups,)
    counts = np.bincount(group_index, minlength=n_groups).astype(np.float64)  # (n_groups,)
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(n_bootstrap, n_groups))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)  # (n_bootstrap,)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
