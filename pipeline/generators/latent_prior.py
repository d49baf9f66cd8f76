"""A non-parametric prior on predicted latents: a soft nearest-neighbour projection onto the
training stimuli's latents.

A brain decoder's latent points in roughly the right direction but off the manifold of real
stimulus latents, where a generator trained on real latents is least reliable. The prior
replaces each predicted latent by the mean of the training latents weighted by
``softmax(cos / temperature)``, cosines taken after centring on the training latents' mean
direction: a latent that a generator has seen the like of, as the diffusion prior of
MindEye / unCLIP aims at, without a network to train. Only training stimuli are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipeline.generators.latents import l2_normalise, unit_rows

if TYPE_CHECKING:
    from pipeline.config import Section
    from pipeline.generators.base import Generator, ImageOutput, ShapeOutput, TextOutput
    from pipeline.generators.options import LatentPriorConfig


def project_on_training(latents: np.ndarray, train_latents: np.ndarray, temperature: float
                        ) -> np.ndarray:
    """Softmax-weighted mean of the training latents for each latent.

    Parameters
    ----------
    latents : ndarray, shape (n, dim)
        Predicted latents (any scale).
    train_latents : ndarray, shape (n_train, dim)
        The training stimuli's target latents.
    temperature : float
        Softmax temperature over centred cosines: small values pick the nearest training
        latent, large ones average many.

    Returns
    -------
    ndarray, shape (n, dim), float32
    """
    train_unit = l2_normalise(train_latents, "training latents").astype(np.float64)
    centre = train_unit.mean(axis=0)  # (dim,)
    cosines = unit_rows(l2_normalise(latents, "predicted latents") - centre) \
        @ unit_rows(train_unit - centre).T  # (n, n_train)
    logits = (cosines - cosines.max(axis=1, keepdims=True)) / temperature
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights @ np.asarray(train_latents, dtype=np.float64)).astype(np.float32)


def generate_decoded(generator: Generator, kind: str, latents: np.ndarray,
                     train_latents: np.ndarray, prior: LatentPriorConfig | None,
                     sampling: Section, seed: int) -> ImageOutput | TextOutput | ShapeOutput:
    """Generate from decoded latents: through the prior when it covers ``kind``.

    Parameters
    ----------
    generator : Generator
        A fitted generator of ``kind``.
    latents : ndarray, shape (n, dim)
        Latents predicted by a decoder (never the true ones: the ceiling is not projected).
    train_latents : ndarray, shape (n_train, dim)
        The training stimuli's target latents.
    prior : LatentPriorConfig or None
        ``generate.latent_prior``; None generates from ``latents`` as they are.
    """
    if prior is None or kind not in prior.kinds:
        return generator.generate(latents, sampling, seed)
    projected = project_on_training(latents, train_latents, prior.temperature)
    return generator.generate_projected(latents, projected, sampling, seed)
