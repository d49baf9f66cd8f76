"""Projection heads of the ``joint`` image-text space, their CLIP (InfoNCE) loss and top-1."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class HeadsConfig:
    """Architecture and fit of the heads (the ``joint`` target's options, minus its inputs)."""

    dim: int
    hidden: int
    dropout: float
    temperature: float
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int


def _head(n_in: int, cfg: HeadsConfig) -> nn.Module:
    if cfg.hidden == 0:
        return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(n_in, cfg.dim))
    return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(n_in, cfg.hidden), nn.GELU(),
                         nn.Linear(cfg.hidden, cfg.dim))


class JointHeads(nn.Module):
    """An image head and a text head into one unit-norm space, with a learnable temperature.

    Each side standardises its input features with the training mean and standard
    deviation (buffers ``<side>_mean``, ``<side>_std``) before its head.
    """

    def __init__(self, n_image: int, n_text: int, cfg: HeadsConfig) -> None:
        super().__init__()
        self.image = _head(n_image, cfg)
        self.text = _head(n_text, cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature)))
        for side, n in (("image", n_image), ("text", n_text)):
            self.register_buffer(f"{side}_mean", torch.zeros(n))
            self.register_buffer(f"{side}_std", torch.ones(n))

    def embed(self, side: str, features: torch.Tensor) -> torch.Tensor:
        """Return unit-norm embeddings (n, dim) of ``features`` (n, n_in) of ``side``."""
        standard = (features - getattr(self, f"{side}_mean")) / getattr(self, f"{side}_std")
        return F.normalize(getattr(self, side)(standard), dim=-1)

    def loss(self, image: torch.Tensor, text: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE of paired features; ``same`` (n, n) marks identical captions.

        Pairs whose captions are identical count as positives of each other (soft labels),
        so repeated captions are not pushed apart.
        """
        logits = self.embed("image", image) @ self.embed("text", text).T  # (n, n)
        logits = logits * self.logit_scale.clamp(max=math.log(100.0)).exp()
        labels = same / same.sum(dim=1, keepdim=True)  # (n, n), rows sum to 1
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels.T)) / 2


def same_caption(captions: list[str]) -> torch.Tensor:
    """Return (n, n) float32: 1 where two captions are identical (diagonal included)."""
    codes = torch.as_tensor(np.unique(np.asarray(captions), return_inverse=True)[1].ravel())
    return (codes[:, None] == codes[None, :]).float()


def top1(heads: JointHeads, image: torch.Tensor, text: torch.Tensor, captions: list[str]) -> float:
    """Image -> caption retrieval top-1 (a hit when the retrieved caption is the true text)."""
    with torch.no_grad():
        scores = heads.embed("image", image) @ heads.embed("text", text).T  # (n, n)
    best = scores.argmax(dim=1).numpy()
    return float(np.mean(np.asarray(captions)[best] == np.asarray(captions)))
