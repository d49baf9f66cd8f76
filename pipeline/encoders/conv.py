"""Convolutional encoder after Defossez et al. (2023, brainmagick) and Benchetrit et al. (2023).

Spatial attention over sensor positions -> subject layer -> dilated residual convolutions
-> temporal aggregation -> latent; optionally blended with the ridge map (``ridge_blend``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.encoders.ridge_blend import RidgeBlend
from pipeline.encoders.subjects import with_unseen

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import EncoderData

DILATION_CYCLE = 5
KERNEL_SIZE = 3
LAYOUT_MARGIN = 0.1


def project_positions(chs_pos: np.ndarray) -> np.ndarray:
    """Project 3-D sensor positions onto a 2-D layout in [margin, 1 - margin].

    Azimuthal equidistant projection around the vertical axis of the head frame (as for
    topomaps), then one common scale for both axes so the layout keeps its proportions.

    Parameters
    ----------
    chs_pos : ndarray, shape (n_chans, 3)
        Positions in metres, head coordinates (origin inside the head, z up).

    Returns
    -------
    ndarray, shape (n_chans, 2)
    """
    pos = np.asarray(chs_pos, dtype=np.float64)
    radius = np.maximum(np.linalg.norm(pos, axis=1), 1e-12)
    polar = np.arccos(np.clip(pos[:, 2] / radius, -1.0, 1.0))  # 0 at the vertex
    azimuth = np.arctan2(pos[:, 1], pos[:, 0])
    flat = np.stack([polar * np.cos(azimuth), polar * np.sin(azimuth)], axis=1)  # (C, 2)
    flat = flat - flat.min(axis=0)
    extent = max(float(flat.max()), 1e-12)
    return LAYOUT_MARGIN + (1 - 2 * LAYOUT_MARGIN) * flat / extent


def fourier_features(layout: np.ndarray, n_fourier: int) -> np.ndarray:
    """Fourier features of 2-D positions: cos and sin of 2 pi (kx x + ky y) / width.

    Parameters
    ----------
    layout : ndarray, shape (n_chans, 2)
        Positions in [0, 1].
    n_fourier : int
        Frequencies per axis (0 .. n_fourier - 1).

    Returns
    -------
    ndarray, shape (n_chans, 2 * n_fourier ** 2)
    """
    freqs = np.arange(n_fourier)
    width = 1 + 2 * LAYOUT_MARGIN
    phase_x = 2 * np.pi * freqs[:, None] * layout[:, 0, None, None] / width  # (C, F, 1)
    phase_y = 2 * np.pi * freqs[None, :] * layout[:, 1, None, None] / width  # (C, 1, F)
    phase = (phase_x + phase_y).reshape(len(layout), -1)  # (C, F * F)
    return np.concatenate([np.cos(phase), np.sin(phase)], axis=1)


class SpatialAttention(nn.Module):
    """Each output channel is a softmax-weighted sum of sensors, scored from their positions.

    During training, the sensors within ``dropout_radius`` of a random point of the layout
    are left out (spatial dropout), independently for each trial.
    """

    def __init__(
        self, chs_pos: np.ndarray, out_channels: int, n_fourier: int, dropout_radius: float
    ) -> None:
        super().__init__()
        layout = project_positions(chs_pos)
        embedding = fourier_features(layout, n_fourier)
        self.register_buffer("layout", torch.as_tensor(layout, dtype=torch.float32))
        self.register_buffer("embedding", torch.as_tensor(embedding, dtype=torch.float32))
        self.heads = nn.Parameter(torch.randn(out_channels, embedding.shape[1]))
        self.heads.data /= math.sqrt(embedding.shape[1])
        self.dropout_radius = dropout_radius

    def weights(self, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of each output channel over sensors.

        Parameters
        ----------
        keep : Tensor of bool, shape (B, C), optional
            Sensors available to each trial; all when omitted.

        Returns
        -------
        Tensor, shape (S, C), or (B, S, C) with ``keep``
            Non-negative, summing to 1 over sensors.
        """
        scores = self.heads @ self.embedding.T  # (S, C)
        if keep is None:
            return scores.softmax(dim=-1)
        scores = scores.expand(len(keep), -1, -1)  # (B, S, C)
        return scores.masked_fill(~keep[:, None, :], float("-inf")).softmax(dim=-1)

    def dropout_mask(self, batch_size: int) -> torch.Tensor:
        """Draw the sensors kept for each trial (B, C): all but a disc around a random point."""
        centres = torch.rand(batch_size, 2, device=self.layout.device)  # (B, 2)
        keep = torch.cdist(centres, self.layout) > self.dropout_radius  # (B, C)
        return keep | ~keep.any(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map sensors (B, C, T) to attention channels (B, S, T)."""
        if self.training and self.dropout_radius > 0:
            weights = self.weights(self.dropout_mask(len(x)))  # (B, S, C)
            return torch.einsum("bsc,bct->bst", weights, x)
        return torch.einsum("sc,bct->bst", self.weights(), x)


class SubjectLayer(nn.Module):
    """A 1x1 convolution (channel mixing) of its own for each subject.

    Subject index ``n_subjects`` (unseen) mixes with the average of the subjects' matrices
    (:mod:`pipeline.encoders.subjects`).
    """

    def __init__(self, n_subjects: int, channels: int) -> None:
        super().__init__()
        weight = torch.randn(n_subjects, channels, channels) / math.sqrt(channels)
        self.weight = nn.Parameter(weight)  # (n_subjects, S, S)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Mix channels of x (B, S, T) with each trial's subject matrix -> (B, S, T)."""
        return torch.einsum("bst,bsd->bdt", x, with_unseen(self.weight)[subject])


class ResidualBlock(nn.Module):
    """x + dropout(GELU(BN(dilated conv(x))))."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            # No bias: the batch norm right after it would cancel it.
            nn.Conv1d(
                channels, channels, KERNEL_SIZE, dilation=dilation, padding=dilation, bias=False
            ),
            nn.BatchNorm1d(channels),
            nn.GELU(),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, T) -> (B, H, T)."""
        return x + self.body(x)


class ConvOptions(Options):
    """Options of the convolutional encoder."""

    hidden_channels: PositiveInt = Field(64, description="channels of the residual blocks")
    depth: PositiveInt = Field(4, description="residual blocks (dilation 2**k, cyclic)")
    spatial_channels: PositiveInt = Field(64, description="outputs of the spatial attention")
    n_fourier: PositiveInt = Field(8, description="Fourier frequencies per layout axis")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the blocks and head")
    spatial_dropout: float = Field(
        0.2, ge=0, lt=1, description="radius of the sensor disc dropped per trial (layout units)"
    )
    head_channels: PositiveInt = Field(4, description="channels kept before flattening time")
    ridge_blend: bool = Field(
        False,
        description="blend the trained encoder with the closed-form ridge map, their weight "
        "chosen on the validation trials (pipeline.encoders.ridge_blend)",
    )


@register_encoder("conv")
class ConvEncoder(Encoder):
    """Spatial attention, subject layer, dilated residual convolutions, temporal head.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate (the architecture works in samples).
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subject-specific layers.
    chs_pos : array, shape (n_chans, 3)
        Sensor positions in metres (head coordinates).
    **options
        See :class:`ConvOptions`.
    """

    fit_method = "lightning"
    Options = ConvOptions
    uses_positions = True

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        self.options = self.parse_options(options)
        opts = self.options
        positions = self.positions(chs_pos, n_chans)
        self.spatial = SpatialAttention(
            positions, opts.spatial_channels, opts.n_fourier, opts.spatial_dropout
        )
        self.subject_layer = SubjectLayer(n_subjects, opts.spatial_channels)
        self.expand = nn.Conv1d(opts.spatial_channels, opts.hidden_channels, 1)
        self.blocks = nn.Sequential(*[
            ResidualBlock(opts.hidden_channels, 2 ** (k % DILATION_CYCLE), opts.dropout)
            for k in range(opts.depth)
        ])
        self.reduce = nn.Sequential(
            nn.Conv1d(opts.hidden_channels, opts.head_channels, 1), nn.GELU()
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(opts.dropout),
            nn.Linear(opts.head_channels * n_times, n_outputs),
        )
        self.blend = (RidgeBlend(n_chans, n_times, sfreq, n_outputs, n_subjects, positions)
                      if opts.ridge_blend else None)

    def finish_fit(self, data: EncoderData) -> dict[str, Any]:
        """With ``ridge_blend``, fit the ridge map and the blend's weight (see RidgeBlend)."""
        return {} if self.blend is None else self.blend.fit(self, data)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) of the given subjects (B,) to latents (B, n_outputs)."""
        z = self.spatial(x)  # (B, S, T)
        z = self.subject_layer(z, subject)  # (B, S, T)
        z = self.blocks(F.gelu(self.expand(z)))  # (B, H, T)
        learned = self.head(self.reduce(z))  # (B, n_outputs)
        return learned if self.blend is None else self.blend(learned, x, subject)
