"""The oracle's representation for arrays of many channels: the whitened evoked subspace.

Each window is taken to the cosine basis (orthonormal DCT over its time points); for each
coefficient, the channels are whitened by the noise-only recording's spatial covariance at
that coefficient (Ledoit-Wolf) and projected on the span of the whitened gains of the
evoked sources (at most ``n_sources`` dimensions). When the noise is stationary (its
temporal covariance diagonal in the cosine basis) this projection is a sufficient
statistic, so the oracle loses nothing; on the simulated MEG it scores at least as well as
the full sensor space, whose covariance the noise epochs cannot estimate well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.fft import dct
from scipy.linalg import cholesky, solve_triangular

from pipeline.simulate.covariance import noise_covariance

if TYPE_CHECKING:
    from pipeline.simulate.recording import SubjectSimulation


def evoked_subspace(subject: SubjectSimulation, windows: np.ndarray) -> np.ndarray:
    """Per temporal frequency, the whitening projection on the evoked sources' subspace.

    Parameters
    ----------
    subject : SubjectSimulation
    windows : ndarray, shape (n_windows, n_channels, n_times)
        Noise-only windows in noise units.

    Returns
    -------
    ndarray, shape (n_times, rank, n_channels)
        For each DCT coefficient of a window, the map from channels to the whitened evoked
        subspace (``rank <= n_sources``).
    """
    noise = subject.noise
    gains = noise.signal_gain[:, None] * subject.head.gains["evoked"] / noise.gain_scale[:, None]
    rank = np.linalg.matrix_rank(gains)
    spectra = dct(windows, norm="ortho", axis=2)  # (n, C, T)
    projections = []
    for index in range(spectra.shape[2]):
        covariance = noise_covariance(spectra[:, :, index : index + 1])  # (C, C)
        factor = cholesky(covariance, lower=True)  # L L^T = covariance; L^-1 whitens
        white_gains = solve_triangular(factor, gains, lower=True)  # (C, S)
        basis = np.linalg.svd(white_gains, full_matrices=False)[0][:, :rank]  # (C, rank)
        projections.append(solve_triangular(factor, basis, lower=True, trans="T").T)
    return np.stack(projections)


def project(data: np.ndarray, projections: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Map windows (SI) to the evoked subspace of :func:`evoked_subspace`.

    (n, C, T) -> (n, rank, T): the DCT of each channel's window, in noise units, each
    coefficient projected with its own map.
    """
    spectra = dct(data / units[None, :, None], norm="ortho", axis=2)  # (n, C, T)
    return np.einsum("trc,nct->nrt", projections, spectra)
