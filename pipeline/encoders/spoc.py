"""Band-power encoder: spatial filters, log power, a linear map; started in closed form.

Source power comodulation (SPoC; Dähne, Meinecke, Haufe, Höhne, Tangermann, Müller & Nikulin
2014, "SPoC: a novel framework for relating the amplitude of neuronal oscillations to
behaviorally relevant parameters", NeuroImage 86:111-122): for a target variable ``z`` with
zero mean, the spatial filters ``w`` whose output power co-varies most with ``z`` solve the
generalised eigenproblem ``C_z w = lambda C w``, ``C`` the mean trial covariance and ``C_z``
the ``z``-weighted mean of the trial covariances. For two classes (``z = +-1``) it is common
spatial patterns (Ramoser, Müller-Gerking & Pfurtscheller 2000).

Here ``z`` runs over the leading principal components of the standardised training latents;
each gives ``filters_per_component`` filters from both ends of its spectrum. A trial's
features are the log mean power of each filter's output, standardised, and a linear layer maps
them to the latent. :meth:`SpocEncoder.prepare_fit` sets the filters and fits that layer as a
ridge map (alpha chosen on the validation trials) before gradient descent; the Lightning
fitter then trains filters and map end to end, keeping the epoch of lowest validation loss.

Power is second-order: the encoder reads induced band-power changes (motor imagery, alpha
suppression), not the sign of a phase-locked evoked response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg
import torch
from pydantic import Field, PositiveFloat, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.encoders.ridge import RidgeOptions, load_ridge, solve_ridge
from pipeline.errors import DataError

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import EncoderData

BATCH_SIZE = 256
POWER_FLOOR = 1e-10  # log power floor (filter outputs have unit mean power at the start)
COVARIANCE_FLOOR = 1e-9  # added to C as a fraction of its mean eigenvalue (rank-deficient data)
COMPONENT_FLOOR = 1e-6  # target components below this fraction of the first are left out


class SpocOptions(Options):
    """Options of the band-power (SPoC) encoder."""

    n_components: PositiveInt = Field(
        4, description="leading principal components of the training latents that the filters "
        "are fitted to (fewer when the latents span fewer)")
    filters_per_component: PositiveInt = Field(
        2, description="filters per component, alternately from the top and the bottom of its "
        "spectrum (power rising and falling with the component)")
    shrinkage: float = Field(
        0.0, ge=0, le=1, description="shrinkage of the mean covariance towards a multiple of "
        "the identity")
    alphas: list[PositiveFloat] = Field(
        [0.1, 1.0, 10.0, 100.0, 1000.0], min_length=1,
        description="ridge grid of the initial linear map, chosen on the validation trials")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the log-power features")


def _leading_components(target: np.ndarray, count: int) -> np.ndarray:
    """Scores of the leading principal components of ``target`` (N, D), each of unit
    variance. Returns (N, K), K <= count (components of negligible variance left out)."""
    centred = target - target.mean(axis=0)
    _, singular, right = np.linalg.svd(centred, full_matrices=False)
    keep = int(np.sum(singular[:count] > COMPONENT_FLOOR * singular[0])) if singular.size else 0
    if keep == 0:
        raise DataError("encoder 'spoc': the training latents do not vary; expected trials of "
                        "at least two different stimuli")
    scores = centred @ right[:keep].T  # (N, K)
    return scores / scores.std(axis=0)


def _weighted_covariances(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean trial covariance ``C`` and, per column of ``weights``, the weighted mean ``C_z``.

    Parameters
    ----------
    x : ndarray, shape (N, C, T)
    weights : ndarray, shape (N, K)

    Returns
    -------
    mean : ndarray, shape (C, C)
    weighted : ndarray, shape (K, C, C)
    """
    n_chans = x.shape[1]
    mean = np.zeros((n_chans, n_chans))
    weighted = np.zeros((weights.shape[1], n_chans, n_chans))
    for start in range(0, len(x), BATCH_SIZE):
        batch = np.asarray(x[start : start + BATCH_SIZE], dtype=np.float64)
        covs = np.einsum("nct,ndt->ncd", batch, batch) / batch.shape[-1]  # (n, C, C)
        mean += covs.sum(axis=0)
        weighted += np.einsum("nk,ncd->kcd", weights[start : start + BATCH_SIZE], covs)
    return mean / len(x), weighted / len(x)


def spoc_filters(x: np.ndarray, components: np.ndarray, per_component: int,
                 shrinkage: float) -> np.ndarray:
    """SPoC filters of epochs ``x`` (N, C, T) for target ``components`` (N, K).

    Each component gives ``per_component`` generalised eigenvectors of ``(C_z, C)``, taken
    alternately from the largest and the smallest eigenvalue. Filters are scaled so that
    their output has unit mean power over the trials (``w' C w = 1``).

    Returns
    -------
    ndarray, shape (K * min(per_component, C), C)

    Raises
    ------
    DataError
        If the epochs have no finite, non-zero power.
    """
    mean, weighted = _weighted_covariances(x, components)
    n_chans = len(mean)
    level = np.trace(mean) / n_chans
    if not np.isfinite(level) or level <= 0:
        raise DataError(f"encoder 'spoc': the training epochs' mean power is {level:g}; "
                        "expected finite signals that are not flat")
    mean = (1 - shrinkage) * mean + (shrinkage + COVARIANCE_FLOOR) * level * np.eye(n_chans)
    ends = [n_chans - 1 - k // 2 if k % 2 == 0 else k // 2  # top, bottom, next top, ...
            for k in range(min(per_component, n_chans))]
    # eigenvalues ascending, eigenvectors scaled to v' C v = 1
    return np.concatenate([scipy.linalg.eigh(target_cov, mean)[1][:, ends].T
                           for target_cov in weighted])


@register_encoder("spoc")
class SpocEncoder(Encoder):
    """Log power of learned spatial filters, mapped linearly to the latent.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate (unused).
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subjects (unused: one map for all).
    chs_pos : array, shape (n_chans, 3)
        Channel positions (unused).
    **options
        See :class:`SpocOptions`.
    """

    fit_method = "lightning"
    Options = SpocOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        self.options = self.parse_options(options)
        n_filters = self.options.n_components * min(self.options.filters_per_component, n_chans)
        self.filters = nn.Parameter(torch.randn(n_filters, n_chans) / np.sqrt(n_chans))
        self.register_buffer("feature_mean", torch.zeros(n_filters))
        self.register_buffer("feature_scale", torch.ones(n_filters))
        self.dropout = nn.Dropout(self.options.dropout)
        self.head = nn.Linear(n_filters, n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Log mean power of each filter's output: epochs (B, C, T) -> (B, F)."""
        outputs = torch.einsum("fc,bct->bft", self.filters, x)
        return torch.log(outputs.pow(2).mean(dim=-1).clamp_min(POWER_FLOOR))

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) to latents (B, n_outputs); ``subject`` is unused."""
        standardised = (self.features(x) - self.feature_mean) / self.feature_scale
        return self.head(self.dropout(standardised))

    @torch.no_grad()
    def _features(self, x: np.ndarray) -> np.ndarray:
        """Features of epochs ``x`` (N, C, T) in batches, as numpy (N, F)."""
        return torch.cat([self.features(torch.from_numpy(np.asarray(x[start : start + BATCH_SIZE],
                                                                     dtype=np.float32)))
                          for start in range(0, len(x), BATCH_SIZE)]).numpy()

    def prepare_fit(self, data: EncoderData) -> dict[str, Any]:
        """Set the filters by SPoC on the training trials, then fit the linear map as ridge.

        Components the latents do not span are left out: their filters and weights start at
        zero (a zero filter's log power is the floor, a constant the standardisation keeps).

        Returns
        -------
        dict
            ``init_components`` (target components used), ``init_alpha`` and the initial
            map's validation score (``init_val_rank``).
        """
        train, val = data.arrays("train"), data.arrays("val")
        opts = self.options
        components = _leading_components(train.target.astype(np.float64), opts.n_components)
        filters = spoc_filters(train.x, components, opts.filters_per_component, opts.shrinkage)
        with torch.no_grad():
            self.filters.zero_()
            self.filters[: len(filters)] = torch.from_numpy(filters.astype(np.float32))
        fit = solve_ridge(self._features(train.x), train, self._features(val.x), val,
                          RidgeOptions(alphas=opts.alphas))
        load_ridge(fit, self.feature_mean, self.feature_scale, self.head)
        return {"init_components": components.shape[1], "init_alpha": fit.selected["alpha"],
                f"init_{fit.selected['selection']}": fit.selected["val_loss"]}
