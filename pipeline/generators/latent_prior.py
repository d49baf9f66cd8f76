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

import numpy as np

from pipeline.generators.latents import l2_normalise, unit_rows


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
