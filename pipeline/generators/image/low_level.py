"""MindEye's low-level branch: a ridge map from the latent to a blurry, low-resolution image."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.generators.ridge import RidgeMap


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 images (n, H, W, 3) -> float32 tensor (n, 3, H, W) in [-1, 1]."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).float() / 127.5 - 1.0  # (n, H, W, 3)
    return pixels.permute(0, 3, 1, 2).contiguous()


def to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """float tensor (n, 3, H, W) in [-1, 1] -> uint8 images (n, H, W, 3)."""
    scaled = ((pixels.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


def shrink(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool images (n, 3, H, W) to (n, 3, size, size)."""
    return F.interpolate(pixels, size=(size, size), mode="area")


def fit_low_level(x: np.ndarray, pixels: torch.Tensor, x_val: np.ndarray,
                  val_pixels: torch.Tensor, size: int) -> RidgeMap:
    """Fit the ridge map from scaled latents to ``size`` x ``size`` images.

    Parameters
    ----------
    x, x_val : ndarray, shape (n, dim) and (n_val, dim)
        Scaled latents of the training and validation stimuli.
    pixels, val_pixels : Tensor, shape (n, 3, H, W) and (n_val, 3, H, W)
        Their images in [-1, 1].
    size : int
        Side of the low-resolution image.

    Returns
    -------
    RidgeMap
        From latents to flattened (3 * size * size) low-resolution images.
    """
    y = shrink(pixels, size).flatten(1).numpy()  # (n, 3 * size * size)
    y_val = shrink(val_pixels, size).flatten(1).numpy()
    return RidgeMap.fit(x, y, x_val, y_val, name="low-level image map")


def blurry_images(ridge: RidgeMap, x: np.ndarray, size: int, image_size: int) -> torch.Tensor:
    """Predict low-resolution images and upsample them (bilinear) to ``image_size``.

    Returns
    -------
    Tensor, shape (n, 3, image_size, image_size)
        Values clamped to [-1, 1].
    """
    small = torch.from_numpy(ridge(x)).reshape(len(x), 3, size, size)
    upsampled = F.interpolate(small, size=(image_size, image_size), mode="bilinear",
                              align_corners=False)
    return upsampled.clamp(-1.0, 1.0)
