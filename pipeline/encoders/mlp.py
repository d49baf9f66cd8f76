"""Residual MLP encoder after MindEye (Scotti et al. 2023) and MindEye2 (Scotti et al. 2024).

Flattened trial (voxels, or channels x times) -> a linear layer into a shared hidden space
(one per subject, as MindEye2's subject-specific ridge layer, or shared) -> LayerNorm, GELU,
dropout -> residual blocks (Linear, LayerNorm, GELU, dropout) -> a linear head to the latent.
Made for fMRI betas (``n_times`` 1), it takes any trial shape.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.encoders.subjects import subject_parameter


class MLPOptions(Options):
    """Options of the residual MLP encoder."""

    hidden: PositiveInt = Field(512, description="width of the hidden space and of the blocks")
    depth: int = Field(2, ge=0, description="residual blocks")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout after each hidden layer")
    subject_layer: bool = Field(
        True, description="one input layer per subject into the shared space (MindEye2)"
    )


class SubjectLinear(nn.Module):
    """A linear map of its own for each subject (one shared map with one subject).

    Subject index ``n_subjects`` (unseen) goes through the average of the subjects' maps
    (:mod:`pipeline.encoders.subjects`).
    """

    def __init__(self, n_subjects: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(n_subjects, in_features, out_features).uniform_(-bound, bound)
        )  # (S, F, H)
        self.bias = nn.Parameter(torch.zeros(n_subjects, out_features))  # (S, H)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map features (B, F) of the given subjects (B,) to (B, H)."""
        if len(self.weight) == 1:
            return x @ self.weight[0] + self.bias[0]
        out = x.new_empty(len(x), self.weight.shape[2])
        for index in torch.unique(subject):
            rows = subject == index
            weight = subject_parameter(self.weight, index)  # (F, H)
            out[rows] = x[rows] @ weight + subject_parameter(self.bias, index)
        return out


class ResidualBlock(nn.Module):
    """x + dropout(GELU(LayerNorm(Linear(x))))."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.LayerNorm(width), nn.GELU(), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H) -> (B, H)."""
        return x + self.body(x)


@register_encoder("mlp")
class MLPEncoder(Encoder):
    """Residual MLP on the flattened trial; see :class:`MLPOptions`.

    Parameters
    ----------
    n_chans, n_times : int
        Trial shape (voxels and 1 for fMRI betas).
    sfreq : float
        Unused.
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subject-specific input layers (with ``subject_layer``).
    chs_pos : array, shape (n_chans, 3)
        Unused.
    **options
        See :class:`MLPOptions`.
    """

    fit_method = "lightning"
    Options = MLPOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        opts = self.parse_options(options)
        n_layers = n_subjects if opts.subject_layer else 1
        self.subject_layer = opts.subject_layer
        self.input = SubjectLinear(n_layers, n_chans * n_times, opts.hidden)
        self.stem = nn.Sequential(nn.LayerNorm(opts.hidden), nn.GELU(), nn.Dropout(opts.dropout))
        self.blocks = nn.Sequential(
            *[ResidualBlock(opts.hidden, opts.dropout) for _ in range(opts.depth)]
        )
        self.head = nn.Linear(opts.hidden, n_outputs)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map trials (B, C, T) of the given subjects (B,) to latents (B, n_outputs)."""
        layer = subject if self.subject_layer else torch.zeros_like(subject)
        z = self.stem(self.input(x.flatten(1), layer))  # (B, H)
        return self.head(self.blocks(z))  # (B, n_outputs)
