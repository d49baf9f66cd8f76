"""EEGNet (Lawhern et al. 2018), with braindecode's argument names (EEGNetv4).

Temporal convolution -> depthwise spatial convolution (max-norm constrained) -> separable
convolution -> a linear map to the latent. The subject index is accepted and unused: one
network serves every subject, as in the paper.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder

KERNEL_SECONDS = 0.5  # the paper's 64 samples at 128 Hz
SEPARABLE_SECONDS = 0.125  # the paper's 16 samples at 128 Hz
POOL_1, POOL_2 = 4, 8
DEPTHWISE_MAX_NORM = 1.0


class EEGNetOptions(Options):
    """Options of EEGNet (braindecode names); kernel lengths default to the paper's seconds."""

    F1: PositiveInt = Field(8, description="temporal filters")
    D: PositiveInt = Field(2, description="spatial filters per temporal filter")
    F2: PositiveInt | None = Field(None, description="separable filters; default F1 * D")
    kernel_length: PositiveInt | None = Field(
        None, description="temporal kernel in samples; default 0.5 s, made odd"
    )
    drop_prob: float = Field(0.25, ge=0, lt=1, description="dropout probability")


class MaxNormConv2d(nn.Conv2d):
    """A convolution whose filters are renormalised to at most ``max_norm`` before use."""

    def __init__(self, *args, max_norm: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_norm = max_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.renorm(self.weight, p=2, dim=0, maxnorm=self.max_norm)
        return self._conv_forward(x, weight, self.bias)


@register_encoder("eegnet")
class EEGNet(Encoder):
    """EEGNet-8,2 by default (F1 = 8, D = 2); see :class:`EEGNetOptions`.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate, to express the default kernel lengths in samples.
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Unused (one network for all subjects).
    chs_pos : array, shape (n_chans, 3)
        Unused (EEGNet learns its spatial filters freely).
    **options
        See :class:`EEGNetOptions`.
    """

    fit_method = "lightning"
    Options = EEGNetOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        opts = self.parse_options(options)
        f2 = opts.F2 or opts.F1 * opts.D
        # Odd defaults, so 'same' padding is symmetric and needs no padded copy of the input.
        kernel = opts.kernel_length or round(KERNEL_SECONDS * sfreq) | 1
        separable = round(SEPARABLE_SECONDS * sfreq) | 1
        self.features = nn.Sequential(
            nn.Conv2d(1, opts.F1, (1, kernel), padding="same", bias=False),
            nn.BatchNorm2d(opts.F1),
            MaxNormConv2d(
                opts.F1, opts.F1 * opts.D, (n_chans, 1), groups=opts.F1, bias=False,
                max_norm=DEPTHWISE_MAX_NORM,
            ),
            nn.BatchNorm2d(opts.F1 * opts.D),
            nn.ELU(),
            nn.AvgPool2d((1, POOL_1), ceil_mode=True),
            nn.Dropout(opts.drop_prob),
            nn.Conv2d(
                opts.F1 * opts.D, opts.F1 * opts.D, (1, separable), padding="same",
                groups=opts.F1 * opts.D, bias=False,
            ),
            nn.Conv2d(opts.F1 * opts.D, f2, 1, bias=False),
            nn.BatchNorm2d(f2),
            nn.ELU(),
            nn.AvgPool2d((1, POOL_2), ceil_mode=True),
            nn.Dropout(opts.drop_prob),
            nn.Flatten(),
        )
        n_features = f2 * math.ceil(math.ceil(n_times / POOL_1) / POOL_2)
        self.head = nn.Linear(n_features, n_outputs)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) to latents (B, n_outputs); ``subject`` is unused."""
        return self.head(self.features(x[:, None]))  # (B, 1, C, T) -> (B, n_outputs)
