"""The Ledoit-Wolf estimate of a noise covariance, in one matrix product."""

from __future__ import annotations

import numpy as np


def noise_covariance(windows: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf covariance of zero-mean noise windows.

    The estimator of ``sklearn.covariance.LedoitWolf(assume_centered=True)``, computed
    with one matrix product.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, n_channels, n_times)

    Returns
    -------
    ndarray, shape (n_channels * n_times, n_channels * n_times)
        Covariance of the channel-major flattened windows.
    """
    flat = windows.reshape(len(windows), -1)  # (n, p)
    n, p = flat.shape
    empirical = flat.T @ flat / n  # (p, p)
    mu = np.trace(empirical) / p
    frobenius = np.sum(empirical**2)
    delta = (frobenius - 2.0 * mu * np.trace(empirical) + p * mu**2) / p
    beta = (np.sum(np.sum(flat**2, axis=1) ** 2) / n - frobenius) / (n * p)
    shrinkage = min(beta, delta) / delta if delta > 0 else 1.0
    covariance = (1.0 - shrinkage) * empirical
    covariance[np.diag_indices(p)] += shrinkage * mu
    return covariance
