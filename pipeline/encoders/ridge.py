"""Ridge regression baseline: flatten -> standardise -> linear, fitted in closed form.

:func:`solve_ridge` and :func:`load_ridge` serve every closed-form encoder that ends in a
ridge map from its features (see :mod:`pipeline.encoders.riemann`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, PositiveFloat
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.encoders.losses import retrieval_ranks

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import SplitArrays


def _val_mse(pred: np.ndarray, val: SplitArrays) -> float:
    """Mean squared error against the standardised validation targets."""
    return float(np.mean((pred - val.target) ** 2))


def _val_rank(pred: np.ndarray, val: SplitArrays) -> float:
    """Mean rank of the true stimulus among the validation stimuli (cosine; 0 is best)."""
    ranks = retrieval_ranks(
        torch.from_numpy(pred), torch.from_numpy(val.target), torch.from_numpy(val.stimulus)
    )
    return float(ranks.double().mean())


def _eigen_system(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Eigen-decompose the smaller Gram matrix of ``x`` (N, P) for ridge solves.

    Returns ``eigenvalues`` (R,), ``basis`` (P, R) and ``rhs`` (R, D) such that the ridge
    weights for any alpha are ``basis @ (rhs / (eigenvalues + alpha)[:, None])``: the dual
    (kernel) form when N <= P, the primal form otherwise.
    """
    if len(x) <= x.shape[1]:
        eigenvalues, vectors = np.linalg.eigh(x @ x.T)  # (N,), (N, N)
        basis, rhs = x.T @ vectors, vectors.T @ y
    else:
        eigenvalues, vectors = np.linalg.eigh(x.T @ x)  # (P,), (P, P)
        basis, rhs = vectors, vectors.T @ (x.T @ y)
    return np.clip(eigenvalues, 0.0, None), basis, rhs


class RidgeOptions(Options):
    """Options of the ridge encoder."""

    alphas: list[PositiveFloat] = Field(
        [1.0, 10.0, 100.0, 1e3, 1e4, 1e5], min_length=1, description="regularisation grid"
    )
    selection: Literal["mse", "rank"] = Field(
        "rank",
        description="alpha chosen on validation trials by mean squared error or by the "
        "mean retrieval rank of the true stimulus",
    )


@dataclass(frozen=True)
class RidgeFit:
    """A ridge map from standardised features to standardised targets, chosen on val."""

    feature_mean: np.ndarray  # (F,)
    feature_scale: np.ndarray  # (F,)
    weight: np.ndarray  # (F, D)
    intercept: np.ndarray  # (D,)
    history: pd.DataFrame  # one row per alpha: alpha, val_mse, val_rank
    selected: dict[str, Any]  # alpha, val_loss, selection


def solve_ridge(
    x: np.ndarray, train: SplitArrays, x_val: np.ndarray, val: SplitArrays, options: RidgeOptions
) -> RidgeFit:
    """Standardise features, solve ridge for every alpha, keep the best one on ``val``.

    Parameters
    ----------
    x, x_val : ndarray, shape (N, F) and (N_val, F)
        Features of the training and validation trials.
    train, val : SplitArrays
        Their standardised targets (and, for rank selection, stimuli).
    options : RidgeOptions
        The alpha grid and the selection score.

    Returns
    -------
    RidgeFit
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-6 * scale.max(), scale, 1.0)  # constant features stay as is
    x = (x - mean) / scale
    y = train.target.astype(np.float64)  # (N, D)
    y_mean = y.mean(axis=0)
    eigenvalues, basis, rhs = _eigen_system(x, y - y_mean)  # (R,), (F, R), (R, D)
    val_projected = ((np.asarray(x_val, dtype=np.float64) - mean) / scale) @ basis  # (N_val, R)
    rows, solutions = [], []
    for alpha in options.alphas:
        shrunk = rhs / (eigenvalues + alpha)[:, None]  # (R, D)
        pred = (val_projected @ shrunk + y_mean).astype(np.float32)  # (N_val, D)
        rows.append({
            "alpha": alpha, "val_mse": _val_mse(pred, val), "val_rank": _val_rank(pred, val),
        })
        solutions.append(shrunk)
    history = pd.DataFrame(rows)
    score = f"val_{options.selection}"
    best = int(history[score].to_numpy().argmin())
    selected = {
        "alpha": float(options.alphas[best]),
        "val_loss": float(history[score].iloc[best]),
        "selection": score,
    }
    return RidgeFit(mean, scale, basis @ solutions[best], y_mean, history, selected)


def load_ridge(
    fit: RidgeFit, feature_mean: torch.Tensor, feature_scale: torch.Tensor, linear: nn.Linear
) -> None:
    """Copy a :class:`RidgeFit` into an encoder's standardisation buffers and linear layer."""
    with torch.no_grad():
        feature_mean.copy_(torch.from_numpy(fit.feature_mean))
        feature_scale.copy_(torch.from_numpy(fit.feature_scale))
        linear.weight.copy_(torch.from_numpy(fit.weight.T))
        linear.bias.copy_(torch.from_numpy(fit.intercept))


@register_encoder("ridge")
class RidgeEncoder(Encoder):
    """Linear map from the standardised, flattened epoch to the latent.

    Fitted by :meth:`fit_closed_form` (one eigendecomposition, then a cheap solve per
    alpha; kernel form when trials are fewer than features), not by gradient descent;
    the weights live in an ``nn.Linear`` so saving and prediction follow every encoder's path.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate (unused).
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subjects (unused: one map for all subjects).
    chs_pos : array, shape (n_chans, 3)
        Channel positions (unused).
    **options
        See :class:`RidgeOptions`.
    """

    fit_method = "closed_form"
    Options = RidgeOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        self.options = self.parse_options(options)
        n_features = n_chans * n_times
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        self.linear = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) to latents (B, n_outputs)."""
        features = (x.flatten(1) - self.feature_mean) / self.feature_scale  # (B, C * T)
        return self.linear(features)  # (B, n_outputs)

    def fit_closed_form(
        self, train: SplitArrays, val: SplitArrays
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Fit on ``train`` for every alpha and keep the one that scores best on ``val``.

        Parameters
        ----------
        train, val : SplitArrays
            Epochs and standardised targets of the training and validation trials.

        Returns
        -------
        history : DataFrame
            One row per alpha: alpha, val_mse, val_rank.
        selected : dict
            ``{"alpha", "val_loss", "selection"}``: the chosen alpha, its validation score
            and the score's name (val_mse or val_rank).
        """
        flat_train = train.x.reshape(len(train.x), -1)  # (N, C * T)
        fit = solve_ridge(flat_train, train, val.x.reshape(len(val.x), -1), val, self.options)
        load_ridge(fit, self.feature_mean, self.feature_scale, self.linear)
        return fit.history, fit.selected
