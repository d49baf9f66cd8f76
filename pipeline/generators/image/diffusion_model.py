"""The networks of the conditional pixel diffusion generator: a diffusers UNet and the
projection of the latent into the UNet's class (time-embedding) conditioning."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn


def patchify(pixels: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Images (n, 3, S, S) -> patch vectors (n, 3 * p * p, S / p, S / p) (space to depth)."""
    return F.pixel_unshuffle(pixels, patch_size)


def unpatchify(patches: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: (n, 3 * p * p, S / p, S / p) -> (n, 3, S, S)."""
    return F.pixel_shuffle(patches, patch_size)


def build_unet(image_size: int, patch_size: int, block_out_channels: tuple[int, ...],
               layers_per_block: int) -> UNet2DModel:
    """A diffusers UNet over image patches, with class conditioning added to its time embedding.

    The diffusion runs in pixel space, but the UNet sees each ``patch_size`` x ``patch_size``
    patch as one position (space to depth, as DiT's patches), which divides its cost by
    ``patch_size ** 2`` on CPU. Self-attention runs at the lowest resolution only; residual
    blocks use scale-and-shift (FiLM) modulation by the time + condition embedding.

    Parameters
    ----------
    image_size : int
        Side of the square RGB images.
    patch_size : int
        Side of the pixel patches the UNet sees as channels.
    block_out_channels : tuple of int
        Channels at each resolution; one downsampling per level after the first.
    layers_per_block : int
        Residual blocks per level.

    Returns
    -------
    UNet2DModel
        Its ``class_labels`` argument takes the condition embedding (B, 4 * channels[0]).
    """
    levels = len(block_out_channels)
    down = ("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",)
    up = ("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1)
    return UNet2DModel(
        sample_size=image_size // patch_size,
        in_channels=3 * patch_size**2,
        out_channels=3 * patch_size**2,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=tuple(block_out_channels),
        layers_per_block=layers_per_block,
        norm_num_groups=math.gcd(32, *block_out_channels),
        attention_head_dim=min(32, block_out_channels[-1]),
        resnet_time_scale_shift="scale_shift",
        class_embed_type="identity",
    )


class ConditionEncoder(nn.Module):
    """Scaled latent (B, dim) -> condition embedding (B, embed_dim); a learned null condition.

    Parameters
    ----------
    latent_dim : int
        Dimension of the target space.
    embed_dim : int
        The UNet's time-embedding dimension.
    """

    def __init__(self, latent_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
        )
        self.null = nn.Parameter(torch.zeros(embed_dim))

    def forward(self, latents: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ``latents`` (B, dim); rows where ``drop`` (B,) is True get the null condition."""
        embedding = self.net(latents)  # (B, embed_dim)
        if drop is None:
            return embedding
        return torch.where(drop[:, None], self.null.expand_as(embedding), embedding)

    def unconditional(self, n: int) -> torch.Tensor:
        """The null condition repeated ``n`` times (n, embed_dim)."""
        return self.null.expand(n, -1)
