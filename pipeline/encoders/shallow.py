"""ShallowFBCSPNet (Schirrmeister et al. 2017), with braindecode's argument names.

Temporal convolution -> spatial convolution -> square -> mean pooling -> log: a learned
filter-bank common spatial pattern, followed by a linear map to the latent. The subject
index is accepted and unused.
"""

from __future__ import annotations

import torch
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.errors import ParamsError

# The paper's lengths at 250 Hz (25, 75 and 15 samples), in seconds.
FILTER_SECONDS, POOL_SECONDS, STRIDE_SECONDS = 0.1, 0.3, 0.06
LOG_FLOOR = 1e-6


class ShallowOptions(Options):
    """Options of ShallowFBCSPNet (braindecode names); lengths default to the paper's seconds."""

    n_filters_time: PositiveInt = Field(40, description="temporal filters")
    filter_time_length: PositiveInt | None = Field(
        None, description="temporal kernel in samples; default 0.1 s"
    )
    n_filters_spat: PositiveInt = Field(40, description="spatial filters")
    pool_time_length: PositiveInt | None = Field(
        None, description="pooling window in samples; default 0.3 s (at most the epoch)"
    )
    pool_time_stride: PositiveInt | None = Field(
        None, description="pooling stride in samples; default 0.06 s"
    )
    drop_prob: float = Field(0.5, ge=0, lt=1, description="dropout probability")


def _samples(value: int | None, seconds: float, sfreq: float) -> int:
    """``value`` if given, else ``seconds`` at ``sfreq`` (at least one sample)."""
    return value or max(1, round(seconds * sfreq))


@register_encoder("shallow")
class ShallowFBCSPNet(Encoder):
    """Shallow ConvNet; see :class:`ShallowOptions`.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate, to express the default lengths in samples.
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Unused (one network for all subjects).
    chs_pos : array, shape (n_chans, 3)
        Unused.
    **options
        See :class:`ShallowOptions`.

    Raises
    ------
    ParamsError
        If the temporal kernel or the pooling window is longer than the epoch allows.
    """

    fit_method = "lightning"
    Options = ShallowOptions

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        opts = self.parse_options(options)
        kernel = _samples(opts.filter_time_length, FILTER_SECONDS, sfreq)
        if kernel > n_times:
            raise ParamsError(
                f"encoder 'shallow': filter_time_length {kernel} exceeds the epoch's "
                f"{n_times} samples; expected at most {n_times}"
            )
        available = n_times - kernel + 1
        pool = opts.pool_time_length or min(_samples(None, POOL_SECONDS, sfreq), available)
        if pool > available:
            raise ParamsError(
                f"encoder 'shallow': pool_time_length {pool} exceeds the {available} samples "
                f"left after the temporal filter; expected at most {available}"
            )
        stride = _samples(opts.pool_time_stride, STRIDE_SECONDS, sfreq)
        self.temporal = nn.Conv2d(1, opts.n_filters_time, (1, kernel))
        self.spatial = nn.Conv2d(
            opts.n_filters_time, opts.n_filters_spat, (n_chans, 1), bias=False
        )
        self.norm = nn.BatchNorm2d(opts.n_filters_spat)
        self.pool = nn.AvgPool2d((1, pool), stride=(1, stride))
        self.dropout = nn.Dropout(opts.drop_prob)
        n_pooled = (available - pool) // stride + 1
        self.head = nn.Linear(opts.n_filters_spat * n_pooled, n_outputs)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) to latents (B, n_outputs); ``subject`` is unused."""
        z = self.norm(self.spatial(self.temporal(x[:, None])))  # (B, F, 1, T')
        z = torch.log(torch.clamp(self.pool(z * z), min=LOG_FLOOR))  # (B, F, 1, P)
        return self.head(self.dropout(z).flatten(1))  # (B, n_outputs)
