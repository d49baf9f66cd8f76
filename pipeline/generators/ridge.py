"""A ridge map from scaled latents to any vector target, its penalty chosen on validation."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)

ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)


class RidgeMap:
    """``y = x @ weight + intercept``, fitted in closed form.

    Parameters
    ----------
    weight : ndarray, shape (dim, out)
    intercept : ndarray, shape (out,)
    """

    def __init__(self, weight: np.ndarray, intercept: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float32)  # (dim, out)
        self.intercept = np.asarray(intercept, dtype=np.float32)  # (out,)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            alphas: Sequence[float] = ALPHAS, name: str = "ridge") -> RidgeMap:
        """Solve ridge for every alpha on the training rows; keep the best on validation.

        Parameters
        ----------
        x, x_val : ndarray, shape (n, dim) and (n_val, dim)
            Scaled latents of the training and validation stimuli.
        y, y_val : ndarray, shape (n, out) and (n_val, out)
            Their targets.
        alphas : sequence of float
            The penalty grid (relative to the mean eigenvalue of ``x.T @ x / n``).
        name : str
            What the map is for, in the log.

        Returns
        -------
        RidgeMap
        """
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - x_mean, y - y_mean  # (n, dim), (n, out)
        gram = xc @ xc.T  # (n, n): the dual form, cheap when n is a few hundred
        eigenvalues, vectors = np.linalg.eigh(gram)  # (n,), (n, n)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        unit = max(float(eigenvalues.mean()), 1e-12)
        rhs = vectors.T @ yc  # (n, out)
        best = None
        for alpha in alphas:
            dual = vectors @ (rhs / (eigenvalues + alpha * unit)[:, None])  # (n, out)
            weight = xc.T @ dual  # (dim, out)
            intercept = y_mean - x_mean @ weight
            mse = float(np.mean((np.asarray(x_val) @ weight + intercept - y_val) ** 2))
            logger.debug("%s: alpha %g val mse %.5f", name, alpha, mse)
            if best is None or mse < best[0]:
                best = (mse, alpha, weight, intercept)
        mse, alpha, weight, intercept = best
        logger.info("%s: alpha %g chosen on validation (mse %.5f)", name, alpha, mse)
        return cls(weight, intercept)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Map scaled latents (n, dim) to targets (n, out), float32."""
        return (np.asarray(x, dtype=np.float32) @ self.weight + self.intercept).astype(np.float32)

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        """The weights as tensors named ``<prefix>_weight`` and ``<prefix>_intercept``."""
        return {f"{prefix}_weight": torch.from_numpy(self.weight),
                f"{prefix}_intercept": torch.from_numpy(self.intercept)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> RidgeMap:
        """Rebuild from :meth:`tensors`."""
        return cls(tensors[f"{prefix}_weight"].numpy(), tensors[f"{prefix}_intercept"].numpy())
