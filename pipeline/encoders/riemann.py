"""Riemannian tangent-space encoder with augmented covariance, fitted in closed form.

Each trial -> Takens delay embedding (the channels stacked with ``order - 1`` copies
delayed by ``lag`` samples: the augmented covariance of Carrara & Papadopoulo, 2024) ->
shrunk covariance -> tangent space at the affine-invariant Riemannian mean of the
training covariances (Barachant et al., 2012), upper triangle with sqrt(2) off-diagonal
weights -> standardised -> ridge to the standardised latents, alpha chosen on validation
trials. pyriemann computes the mean at fit time; prediction runs in torch from buffers.

With ``recentre``, each subject's covariances are first re-centred at its own Riemannian mean
(``M_s^(-1/2) C M_s^(-1/2)``, Zanini, Congedo, Jutten, Said & Berthoumieu 2018, "Transfer
learning: a Riemannian geometry framework with applications to brain-computer interfaces",
IEEE TBME 65:1107-1116), so that subjects whose head, montage placement or anatomy differ
share one tangent space. A subject not fitted on (leave-one-subject-out) is re-centred at the
mean of its own unlabelled trials (:meth:`RiemannEncoder.adapt_unseen`), else at the mean of
every training trial.

Covariances are second-order: they carry band power and its spatial (and, with delays,
temporal) structure, not the sign of a phase-locked evoked response. This is the baseline
of classification tasks such as motor imagery, not of evoked retrieval.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, register_encoder
from pipeline.encoders.ridge import RidgeOptions, load_ridge, solve_ridge
from pipeline.errors import ParamsError

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import SplitArrays

BATCH_SIZE = 256
EIGEN_FLOOR = 1e-12  # eigenvalues below this fraction of the largest are clamped


def augment(x: torch.Tensor, order: int, lag: int) -> torch.Tensor:
    """Takens delay embedding of epochs (B, C, T) -> (B, C * order, T - (order - 1) * lag).

    Rows ``k * C .. (k + 1) * C - 1`` hold the channels delayed by ``k * lag`` samples;
    ``order`` 1 returns ``x``.
    """
    length = x.shape[-1] - (order - 1) * lag
    starts = [(order - 1 - k) * lag for k in range(order)]
    return torch.cat([x[..., start : start + length] for start in starts], dim=-2)


def covariances(x: torch.Tensor, shrinkage: float | str) -> torch.Tensor:
    """Shrunk covariance of each trial (B, P, L) -> (B, P, P), float64.

    The sample covariance (centred, divided by L) is shrunk towards ``trace / P`` times
    the identity: by the fixed ``shrinkage`` in [0, 1], or by the oracle approximating
    shrinkage (Chen et al., 2010; as scikit-learn's ``oas``) when it is ``"oas"``.
    """
    x = x.double()
    x = x - x.mean(dim=-1, keepdim=True)
    n_chans, n_samples = x.shape[-2:]
    emp = x @ x.mT / n_samples  # (B, P, P)
    mu = emp.diagonal(dim1=-2, dim2=-1).sum(-1) / n_chans  # (B,)
    if shrinkage == "oas":
        alpha = emp.square().mean(dim=(-2, -1))  # (B,)
        den = (n_samples + 1) * (alpha - mu.square() / n_chans)
        ratio = (alpha + mu.square()) / torch.where(den == 0, 1.0, den)
        amount = torch.where(den == 0, 1.0, ratio.clamp(max=1.0))[:, None, None]
    else:
        amount = torch.full_like(mu, float(shrinkage))[:, None, None]
    eye = torch.eye(n_chans, dtype=emp.dtype, device=emp.device)
    return (1 - amount) * emp + amount * mu[:, None, None] * eye


def tangent_vectors(cov: torch.Tensor, whitening: torch.Tensor) -> torch.Tensor:
    """Log map at the reference ``M`` given ``whitening = M^(-1/2)``: (B, P, P) -> (B, F).

    ``logm(W C W)``, its upper triangle row by row with off-diagonal entries times sqrt(2)
    (pyriemann's ``tangent_space`` and ``upper``); F = P (P + 1) / 2.
    """
    values, vectors = torch.linalg.eigh(whitening @ cov @ whitening)  # (B, P), (B, P, P)
    floor = EIGEN_FLOOR * values[..., -1:].clamp(min=torch.finfo(values.dtype).tiny)
    log = (vectors * values.clamp(min=floor).log()[..., None, :]) @ vectors.mT  # (B, P, P)
    rows, cols = torch.triu_indices(*log.shape[-2:], device=log.device)
    weight = torch.where(rows == cols, 1.0, math.sqrt(2.0)).to(log.dtype)  # (F,)
    return log[..., rows, cols] * weight


class RiemannOptions(RidgeOptions):
    """Options of the Riemannian tangent-space encoder (and its ridge map)."""

    order: PositiveInt = Field(
        1, description="copies of the channels in the delay embedding (1: plain covariance)"
    )
    lag: PositiveInt = Field(1, description="samples between consecutive delayed copies")
    shrinkage: Annotated[float, Field(ge=0, le=1)] | Literal["oas"] = Field(
        "oas", description="covariance shrinkage: a fixed amount in [0, 1] or oas"
    )
    recentre: bool = Field(
        False, description="re-centre each subject's covariances at its own Riemannian mean "
        "(an unseen subject at the mean of its unlabelled trials)"
    )


@register_encoder("riemann")
class RiemannEncoder(Encoder):
    """Tangent vectors of augmented covariances, then a ridge map to the latent.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate (unused: ``lag`` is in samples).
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subjects (one reference each with ``recentre``; one map for all).
    chs_pos : array, shape (n_chans, 3)
        Channel positions (unused).
    **options
        See :class:`RiemannOptions`.
    """

    fit_method = "closed_form"
    Options = RiemannOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        self.options = self.parse_options(options)
        opts = self.options
        left = n_times - (opts.order - 1) * opts.lag
        if left < 2:
            raise ParamsError(
                f"encoder 'riemann': order {opts.order} and lag {opts.lag} leave {left} of the "
                f"epoch's {n_times} samples; expected at least 2 (a covariance needs time "
                "samples; fMRI estimates have 1)"
            )
        size = n_chans * opts.order
        n_features = size * (size + 1) // 2
        self.register_buffer("whitening", torch.eye(size, dtype=torch.float64))  # M^(-1/2)
        # each subject's M_s^(-1/2) with recentre; the last one is the unseen subject's
        self.register_buffer("subject_whitening", torch.eye(size, dtype=torch.float64).repeat(
            n_subjects + 1 if opts.recentre else 0, 1, 1))
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        self.linear = nn.Linear(n_features, n_outputs)

    def covariances(self, x: torch.Tensor) -> torch.Tensor:
        """Shrunk augmented covariances of epochs (B, C, T) -> (B, P, P), float64."""
        opts = self.options
        return covariances(augment(x, opts.order, opts.lag), opts.shrinkage)

    def features(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Tangent vectors of epochs (B, C, T) of ``subject`` (B,) -> (B, F), float64: at
        the training mean, or re-centred at each subject's own mean (``recentre``)."""
        whitening = self.subject_whitening[subject] if self.options.recentre else self.whitening
        return tangent_vectors(self.covariances(x), whitening)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) of the given subjects (B,) to latents (B, n_outputs)."""
        features = self.features(x, subject).float()  # (B, F)
        return self.linear((features - self.feature_mean) / self.feature_scale)

    @torch.no_grad()
    def _batched(self, method, x: np.ndarray, *per_trial: np.ndarray) -> np.ndarray:
        """Apply ``method`` to ``x`` (N, C, T) (and ``per_trial`` arrays (N,)) in batches of
        BATCH_SIZE trials, as numpy."""
        parts = [method(*(torch.from_numpy(np.array(a[start : start + BATCH_SIZE]))
                          for a in (x, *per_trial)))
                 for start in range(0, len(x), BATCH_SIZE)]
        return torch.cat(parts).cpu().numpy()

    def _set_reference(self, covs: np.ndarray, index: int | None = None) -> None:
        """Set ``M^(-1/2)`` of the Riemannian mean of ``covs`` (N, P, P): the shared
        reference, or subject ``index``'s."""
        from pyriemann.utils.mean import mean_riemann

        values, vectors = np.linalg.eigh(mean_riemann(covs))
        whitening = torch.from_numpy((vectors / np.sqrt(values)) @ vectors.T)
        (self.whitening if index is None else self.subject_whitening[index]).copy_(whitening)

    def adapt_unseen(self, x: np.ndarray) -> dict[str, Any]:
        """With ``recentre``, re-centre the unseen subject at the mean of its trials ``x``."""
        if not self.options.recentre:
            return {}
        self._set_reference(self._batched(self.covariances, x), len(self.subject_whitening) - 1)
        return {"recentred_unseen_on": len(x)}

    def fit_closed_form(
        self, train: SplitArrays, val: SplitArrays
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Set the reference to the training trials' mean, then fit the ridge map.

        Parameters
        ----------
        train, val : SplitArrays
            Epochs and standardised targets of the training and validation trials.

        Returns
        -------
        history : DataFrame
            One row per alpha: alpha, val_mse, val_rank.
        selected : dict
            The chosen alpha, its validation score and the score's name.
        """
        covs = self._batched(self.covariances, train.x)  # (N, P, P)
        self._set_reference(covs)
        if self.options.recentre:
            self.subject_whitening[-1].copy_(self.whitening)  # unseen, until adapted
            for index in np.unique(train.subject):
                self._set_reference(covs[train.subject == index], int(index))
        del covs
        x = self._batched(self.features, train.x, train.subject)  # (N, F)
        x_val = self._batched(self.features, val.x, val.subject)  # (N_val, F)
        fit = solve_ridge(x, train, x_val, val, self.options)
        load_ridge(fit, self.feature_mean, self.feature_scale, self.linear)
        return fit.history, fit.selected
