"""The ClipCap-style mapping network: a target latent -> prefix embeddings of a causal LM."""

from __future__ import annotations

import math

import torch
from torch import nn


def unit_latents(latents: torch.Tensor) -> torch.Tensor:
    """L2-normalise each row (predicted latents have arbitrary scale). (B, D) -> (B, D)."""
    return nn.functional.normalize(latents, dim=-1, eps=1e-8)


class PrefixMapping(nn.Module):
    """An MLP from a conditioned latent to ``prefix_length`` input embeddings of an LM.

    :meth:`condition` turns raw latents into the mapping's input: L2-normalised, minus
    ``center`` (the mean unit latent of the training stimuli, so that what tells stimuli
    apart is not dwarfed by what they share), L2-normalised again. In :meth:`forward` the
    conditioned latent is scaled by ``sqrt(D)`` (unit-variance entries) and the output by
    ``embed_scale``, the RMS of the LM's token embeddings, so the prefix starts at the
    scale of the tokens it sits beside.

    Parameters
    ----------
    latent_dim : int
        D, the target space's dimension.
    prefix_length : int
        P, the number of prefix embeddings.
    embed_dim : int
        E, the language model's embedding width.
    hidden : int
        Width of the hidden layer.
    embed_scale : float
        RMS of the LM's input token embeddings.
    center : Tensor, shape (D,), optional
        Mean unit latent of the training stimuli (zeros if None).
    """

    def __init__(self, latent_dim: int, prefix_length: int, embed_dim: int, hidden: int,
                 embed_scale: float, center: torch.Tensor | None = None) -> None:
        super().__init__()
        self.prefix_length, self.embed_dim = prefix_length, embed_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, prefix_length * embed_dim),
        )
        self.register_buffer("input_scale", torch.tensor(math.sqrt(latent_dim)))
        self.register_buffer("embed_scale", torch.tensor(float(embed_scale)))
        self.register_buffer("center", torch.zeros(latent_dim) if center is None else center)

    def condition(self, latents: torch.Tensor) -> torch.Tensor:
        """Raw latents (B, D) of any scale -> centred unit latents (B, D)."""
        return unit_latents(unit_latents(latents) - self.center)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Conditioned latents (B, D) -> prefix embeddings (B, P, E)."""
        out = self.net(latents * self.input_scale)  # (B, P * E)
        return out.view(-1, self.prefix_length, self.embed_dim) * self.embed_scale
