"""Latents as image generators read them: unit length, centred on the training stimuli.

Predicted latents (from a contrastive brain decoder) have an arbitrary scale, so every
latent is L2-normalised first; then the mean of the normalised *training* latents is
removed and the result divided by one scalar, their RMS value per dimension, so that what
tells stimuli apart is of order one per dimension whatever the target space (EfficientNet
features, for example, share a large common component) and a network's first layer sees
inputs of the usual scale.
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline.errors import DataError

EPS = 1e-8


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm (rows of zeros stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def l2_normalise(latents: np.ndarray, source: str = "latents") -> np.ndarray:
    """Scale each row of ``latents`` (n, dim) to unit length (float32).

    Raises
    ------
    DataError
        If a row is all zeros or not finite (it has no direction).
    """
    latents = np.asarray(latents, dtype=np.float64)
    norms = np.linalg.norm(latents, axis=1, keepdims=True)  # (n, 1)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] < EPS)
    if bad.any():
        raise DataError(
            f"{source}: row {int(np.flatnonzero(bad)[0])} of the latents has norm "
            f"{float(norms[bad][0, 0])}; expected finite, non-zero latents"
        )
    return (latents / norms).astype(np.float32)


class LatentScaler:
    """Normalise, centre and scale latents with statistics of the training latents.

    Parameters
    ----------
    mean : ndarray, shape (dim,)
        Mean of the L2-normalised training latents.
    scale : float
        RMS value (over stimuli and dimensions) of the centred, normalised training latents.
    """

    def __init__(self, mean: np.ndarray, scale: float) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)  # (dim,)
        self.scale = float(scale)

    @classmethod
    def fit(cls, latents: np.ndarray) -> LatentScaler:
        """Fit on the training latents (n, dim)."""
        unit = l2_normalise(latents, "training latents")  # (n, dim)
        mean = unit.mean(axis=0)
        scale = float(np.sqrt(np.mean((unit - mean) ** 2)))
        return cls(mean, max(scale, EPS))

    @property
    def dim(self) -> int:
        """The latent dimension."""
        return int(self.mean.shape[0])

    def transform(self, unit: np.ndarray) -> np.ndarray:
        """Centre and scale already L2-normalised latents (n, dim)."""
        return ((unit - self.mean) / self.scale).astype(np.float32)

    def __call__(self, latents: np.ndarray, source: str = "latents") -> np.ndarray:
        """L2-normalise, centre and scale ``latents`` (n, dim) -> (n, dim) float32."""
        if latents.ndim != 2 or latents.shape[1] != self.dim:
            raise DataError(
                f"{source}: got latents of shape {latents.shape}; expected (n, {self.dim}), "
                "the target space the generator was fitted on"
            )
        return self.transform(l2_normalise(latents, source))

    def tensors(self) -> dict[str, torch.Tensor]:
        """The statistics as tensors, for a safetensors file."""
        return {"latent_mean": torch.from_numpy(self.mean),
                "latent_scale": torch.tensor([self.scale])}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> LatentScaler:
        """Rebuild from :meth:`tensors`."""
        return cls(tensors["latent_mean"].numpy(), float(tensors["latent_scale"][0]))


def noisy_unit(unit: torch.Tensor, max_noise: float, generator: torch.Generator) -> torch.Tensor:
    """Add Gaussian noise to unit latents and renormalise (train-time condition noise).

    Each row gets isotropic noise of norm about ``s``, with ``s`` uniform in
    ``[0, max_noise]``, so its cosine with the clean latent is about ``1 / sqrt(1 + s^2)``
    (0.5 at ``s = 1.73``): the generator learns to work from imprecise predicted latents,
    as unCLIP's noise augmentation does.

    Parameters
    ----------
    unit : Tensor, shape (B, dim)
        L2-normalised latents.
    max_noise : float
        Largest relative noise norm.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    Tensor, shape (B, dim)
        Unit-length noisy latents.
    """
    if max_noise <= 0:
        return unit
    level = torch.rand(unit.shape[0], 1, generator=generator) * max_noise  # (B, 1)
    noise = torch.randn(unit.shape, generator=generator) / unit.shape[1] ** 0.5  # (B, dim)
    noisy = unit + level * noise
    return noisy / noisy.norm(dim=1, keepdim=True).clamp_min(EPS)
