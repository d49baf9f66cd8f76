"""Patch transformer encoder: channel x time-patch tokens (after LaBraM and EEGFormer).

Every channel's signal is cut into time patches; each (channel, time patch) pair is a
token. A token is the linear embedding of its samples, plus a channel embedding computed
from the sensor's position (so it transfers across montages), a learned time-patch
embedding and, optionally, a subject embedding. A pre-norm transformer mixes all tokens of
a trial; their mean goes through a linear head to the latent.

The methods used by self-supervised pretraining (``pipeline.pretrain``) are public:
:meth:`PatchTransformer.patches`, :meth:`PatchTransformer.embed` (with masked time
patches) and :meth:`PatchTransformer.contextual`; ``forward`` chains them, pools and
applies the head.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import nn

from pipeline.encoders.base import Encoder, Options, register_encoder
from pipeline.encoders.conv import fourier_features, project_positions
from pipeline.encoders.subjects import with_unseen
from pipeline.errors import ParamsError

HEAD_PREFIX = "head."  # parameters that are not part of the pretrainable backbone


class PatchTransformerOptions(Options):
    """Options of the patch transformer encoder."""

    patch_seconds: float = Field(
        0.2, gt=0, description="length of a time patch (s); the epoch's tail is zero-padded "
        "to a whole number of patches"
    )
    d_model: PositiveInt = Field(32, description="token width")
    depth: PositiveInt = Field(2, description="transformer layers")
    heads: PositiveInt = Field(4, description="attention heads (must divide d_model)")
    ff_mult: PositiveInt = Field(2, description="feed-forward width, in multiples of d_model")
    dropout: float = Field(
        0.1, ge=0, lt=1, description="dropout on the transformer's residual and feed-forward "
        "paths (attention weights are not dropped)"
    )
    n_fourier: PositiveInt = Field(4, description="Fourier frequencies per sensor-layout axis")
    subject_embedding: bool = Field(
        True, description="add a learned embedding of the trial's subject to every token"
    )
    pooling: Literal["time", "mean"] = Field(
        "time", description="time: tokens averaged over channels, one vector per time patch, "
        "concatenated (keeps the time course, for evoked responses); mean: one average over "
        "every token (LaBraM's classification head)"
    )


def patch_samples(patch_seconds: float, sfreq: float) -> int:
    """Samples in a patch of ``patch_seconds`` at ``sfreq`` (rounded, at least 1)."""
    return max(1, round(patch_seconds * sfreq))


@register_encoder("patch_transformer")
class PatchTransformer(Encoder):
    """Transformer over (channel, time patch) tokens; see :class:`PatchTransformerOptions`.

    Parameters
    ----------
    n_chans, n_times : int
        Epoch shape.
    sfreq : float
        Sampling rate; converts ``patch_seconds`` to samples.
    n_outputs : int
        Latent dimension.
    n_subjects : int
        Number of subject embeddings (with ``subject_embedding``).
    chs_pos : array, shape (n_chans, 3)
        Sensor positions in metres (head coordinates).
    **options
        See :class:`PatchTransformerOptions`.
    """

    fit_method = "lightning"
    Options = PatchTransformerOptions
    uses_positions = True

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos, **options):
        super().__init__()
        self.options = self.parse_options(options)
        opts = self.options
        if opts.d_model % opts.heads:
            raise ParamsError(
                f"encoder 'patch_transformer': got d_model={opts.d_model}, heads={opts.heads}; "
                "expected heads to divide d_model"
            )
        self.n_chans = int(n_chans)
        self.patch_len = patch_samples(opts.patch_seconds, sfreq)
        self.n_patches = math.ceil(int(n_times) / self.patch_len)
        layout = project_positions(self.positions(chs_pos, n_chans))
        features = fourier_features(layout, opts.n_fourier)  # (C, 2 * n_fourier ** 2)
        # Recomputed from the positions, not saved: weights transfer across montages.
        self.register_buffer(
            "channel_features", torch.as_tensor(features, dtype=torch.float32), persistent=False
        )
        self.patch_embed = nn.Linear(self.patch_len, opts.d_model)
        self.channel_embed = nn.Linear(features.shape[1], opts.d_model)
        self.time_embed = nn.Parameter(0.02 * torch.randn(self.n_patches, opts.d_model))
        self.mask_token = nn.Parameter(0.02 * torch.randn(opts.d_model))
        self.subject_embed = (
            nn.Parameter(0.02 * torch.randn(n_subjects, opts.d_model))
            if opts.subject_embedding else None
        )  # (n_subjects, d)
        layer = nn.TransformerEncoderLayer(
            opts.d_model,
            opts.heads,
            dim_feedforward=opts.ff_mult * opts.d_model,
            dropout=opts.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # Dropout on the residual and feed-forward paths only: attention weights are not
        # dropped, which lets torch use its fused (flash) attention kernel, 2x faster on CPU.
        layer.self_attn.dropout = 0.0
        self.transformer = nn.TransformerEncoder(
            layer, opts.depth, norm=nn.LayerNorm(opts.d_model), enable_nested_tensor=False
        )
        pooled = opts.d_model * (self.n_patches if opts.pooling == "time" else 1)
        self.head = nn.Linear(pooled, n_outputs)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Cut epochs (B, C, T) into patches (B, N, C, P), zero-padding the tail."""
        pad = self.n_patches * self.patch_len - x.shape[-1]
        x = F.pad(x, (0, pad))  # (B, C, N * P)
        return x.unflatten(-1, (self.n_patches, self.patch_len)).transpose(1, 2)

    def embed(
        self,
        patches: torch.Tensor,
        subject: torch.Tensor,
        masked_time: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Embed patches (B, N, C, P) into tokens (B, N, C, d).

        Parameters
        ----------
        patches : Tensor, shape (B, N, C, P)
        subject : Tensor of int, shape (B,)
            Index ``n_subjects`` (a subject not trained on) takes the mean subject embedding.
        masked_time : Tensor of bool, shape (B, N), optional
            Time patches whose content (all channels) is replaced by the learned mask
            token; the position embeddings are still added.

        Returns
        -------
        Tensor, shape (B, N, C, d)
        """
        tokens = self.patch_embed(patches)  # (B, N, C, d)
        if masked_time is not None:
            tokens = torch.where(masked_time[:, :, None, None], self.mask_token, tokens)
        tokens = tokens + self.channel_embedding()[None, None] + self.time_embed[None, :, None]
        if self.subject_embed is not None:
            tokens = tokens + with_unseen(self.subject_embed)[subject][:, None, None]
        return tokens

    def channel_embedding(self) -> torch.Tensor:
        """The channel embeddings (C, d), computed from the sensor positions."""
        return self.channel_embed(self.channel_features)

    def contextual(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mix tokens (B, N, C, d) with the transformer -> (B, N, C, d)."""
        batch, n_patches, n_chans, width = tokens.shape
        out = self.transformer(tokens.reshape(batch, n_patches * n_chans, width))
        return out.reshape(batch, n_patches, n_chans, width)

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) of the given subjects (B,) to latents (B, n_outputs)."""
        tokens = self.contextual(self.embed(self.patches(x), subject))  # (B, N, C, d)
        return self.head(self.pool(tokens))  # (B, n_outputs)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pool tokens (B, N, C, d) into (B, N * d) (``pooling: time``) or (B, d) (``mean``)."""
        if self.options.pooling == "time":
            return tokens.mean(dim=2).flatten(1)
        return tokens.mean(dim=(1, 2))

    def backbone_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights pretraining learns: every parameter but the head's."""
        return {
            key: value.detach().cpu().contiguous()
            for key, value in self.state_dict().items()
            if not key.startswith(HEAD_PREFIX)
        }

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The parameters of :meth:`backbone_state_dict` (frozen with ``freeze_pretrained``)."""
        return [
            param for name, param in self.named_parameters() if not name.startswith(HEAD_PREFIX)
        ]
