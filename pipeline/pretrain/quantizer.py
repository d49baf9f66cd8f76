"""Vector quantisation with EMA codebook updates and dead-code restarts; codebook usage.

Vectors and codes live on the unit sphere (as in LaBraM's tokenizer), so the nearest code
is the one of largest cosine similarity. The codebook is not learned by gradient: each
training batch moves every code towards the mean of the vectors assigned to it
(exponential moving averages of counts and sums, van den Oord et al. 2017, appendix), and
a code whose moving count falls below ``dead_code_threshold`` is restarted on a vector
drawn from the encoder's recent outputs (as in Jukebox, Dhariwal et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5
RECENT = 2048  # encoder outputs kept to restart dead codes from


def code_usage(counts: torch.Tensor) -> tuple[float, float]:
    """Perplexity and usage of a codebook from per-code counts.

    Parameters
    ----------
    counts : Tensor, shape (K,)
        How many vectors each code was assigned (over an epoch).

    Returns
    -------
    perplexity : float
        exp of the entropy of the code distribution: 1 when one code takes every vector,
        K when all codes are used equally.
    usage : float
        Fraction of the codes used at least once.
    """
    counts = counts.double()
    total = counts.sum()
    if total <= 0:
        return 1.0, 0.0
    prob = counts / total
    entropy = -(prob * torch.log(prob.clamp_min(1e-30))).sum()
    return float(torch.exp(entropy)), float((counts > 0).double().mean())


class EMAQuantizer(nn.Module):
    """Nearest-code quantiser of unit vectors, with an EMA-updated codebook.

    Parameters
    ----------
    size : int
        Number of codes K.
    dim : int
        Width of a code.
    decay : float
        EMA decay of the per-code counts and sums.
    dead_code_threshold : float
        A code whose EMA count (vectors per batch) falls below this is restarted after
        the update; 0 never restarts.
    """

    def __init__(self, size: int, dim: int, decay: float, dead_code_threshold: float) -> None:
        super().__init__()
        self.decay = decay
        self.dead_code_threshold = dead_code_threshold
        codebook = F.normalize(torch.randn(size, dim), dim=1)
        self.register_buffer("codebook", codebook)  # (K, dim)
        self.register_buffer("cluster_size", torch.ones(size))  # (K,) EMA counts
        self.register_buffer("embed_sum", codebook.clone())  # (K, dim) EMA sums
        self.register_buffer("recent", torch.zeros(0, dim), persistent=False)
        self.restarts = 0

    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """Index (...,) of the nearest code of each unit vector z (..., dim)."""
        return (z @ self.codebook.T).argmax(dim=-1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantise unit vectors z (..., dim); update the codebook when training.

        Returns
        -------
        quantised : Tensor, shape (..., dim)
            The codes, with straight-through gradients to ``z``.
        index : Tensor of int, shape (...)
        """
        index = self.assign(z)  # (...,)
        codes = self.codebook[index]  # (..., dim)
        if self.training:
            self.update(z.detach().reshape(-1, z.shape[-1]), index.reshape(-1))
        return z + (codes - z).detach(), index

    @torch.no_grad()
    def update(self, z: torch.Tensor, index: torch.Tensor) -> None:
        """One EMA step of the codebook on vectors z (n, dim) assigned to ``index`` (n,)."""
        size = len(self.codebook)
        counts = torch.bincount(index, minlength=size).to(z.dtype)  # (K,)
        sums = torch.zeros_like(self.embed_sum).index_add_(0, index, z)  # (K, dim)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + EPS) / (total + size * EPS) * total  # (K,) Laplace
        self.codebook.copy_(F.normalize(self.embed_sum / smoothed[:, None], dim=1))
        self.recent = torch.cat([z, self.recent])[:RECENT]
        self.restart_dead()

    @torch.no_grad()
    def restart_dead(self) -> int:
        """Move every dead code onto a random recent encoder output; return how many moved."""
        if self.dead_code_threshold <= 0 or len(self.recent) == 0:
            return 0
        dead = torch.nonzero(self.cluster_size < self.dead_code_threshold).flatten()  # (n_dead,)
        if len(dead) == 0:
            return 0
        pick = torch.randint(len(self.recent), (len(dead),), device=self.recent.device)
        vectors = F.normalize(self.recent[pick], dim=1)  # (n_dead, dim)
        self.codebook[dead] = vectors
        self.embed_sum[dead] = vectors * self.dead_code_threshold
        self.cluster_size[dead] = self.dead_code_threshold
        self.restarts += len(dead)
        return len(dead)
