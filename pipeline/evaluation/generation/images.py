"""Pairwise image metrics: low-level (PixCorr, SSIM) and EfficientNet-Lite0 feature levels.

The feature metrics follow MindEye's protocol with the network this project ships: 2-way
identification on the activations of an early block (edges, colour blobs) and on the final
pooled features (object identity), and retrieval of the true test image among all of them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from pipeline.evaluation.generation import register_metric
from pipeline.generators.base import ImageOutput
from pipeline.targets.efficientnet import IMAGE_SIZE, MEAN, STD, load_efficientnet_lite0

EARLY_BLOCK = 3  # EfficientNet-Lite0 block whose output is the "early" layer (40 channels)


def _centred_unit_rows(x: np.ndarray) -> np.ndarray:
    """Centre each row and scale it to unit norm (so that dot products are correlations)."""
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _check_pair(generated: ImageOutput, truth: ImageOutput) -> None:
    if generated.images.shape[1:] != truth.images.shape[1:]:
        raise ValueError(
            f"got generated images of shape {generated.images.shape[1:]} and true images of "
            f"shape {truth.images.shape[1:]}; expected equal sizes (resize the truth first)"
        )


@register_metric("pixcorr", kind="image")
def pixcorr(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Pearson correlation of the flattened RGB pixels of every (generated, true) pair.

    Returns
    -------
    ndarray, shape (n_generated, n_true)
    """
    _check_pair(generated, truth)
    g = _centred_unit_rows(generated.images.reshape(len(generated.images), -1).astype(np.float64))
    t = _centred_unit_rows(truth.images.reshape(len(truth.images), -1).astype(np.float64))
    return g @ t.T


@register_metric("ssim", kind="image")
def ssim(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Structural similarity of the greyscale images (Gaussian window, sigma 1.5) of every pair.

    Returns
    -------
    ndarray, shape (n_generated, n_true)
    """
    _check_pair(generated, truth)
    grey_g = [rgb2gray(image) for image in generated.images]  # each (H, W) in [0, 1]
    grey_t = [rgb2gray(image) for image in truth.images]
    scores = np.empty((len(grey_g), len(grey_t)))
    for i, g in enumerate(grey_g):
        for j, t in enumerate(grey_t):
            scores[i, j] = structural_similarity(
                g, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                data_range=1.0,
            )
    return scores


@torch.no_grad()
def efficientnet_features(images: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Early-block and final pooled EfficientNet-Lite0 features of uint8 RGB images.

    Parameters
    ----------
    images : ndarray, shape (n, H, W, 3), uint8
        Resized to 224 x 224 (bilinear) and normalised as the targets stage does.

    Returns
    -------
    dict
        ``early``: (n, C_early * h * w) flattened block activations; ``late``: (n, 1280)
        global-average-pooled final features.
    """
    model = load_efficientnet_lite0()
    early, late = [], []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        batch = batch.permute(0, 3, 1, 2)  # (B, 3, H, W)
        x = torch.nn.functional.interpolate(batch.float() / 255.0, size=(IMAGE_SIZE, IMAGE_SIZE),
                                            mode="bilinear", align_corners=False)
        x = (x - MEAN) / STD  # (B, 3, 224, 224)
        x = model._swish(model._bn0(model._conv_stem(x)))
        for index, block in enumerate(model._blocks):
            x = block(x)
            if index == EARLY_BLOCK:
                early.append(x.flatten(1).numpy())
        maps = model._swish(model._bn1(model._conv_head(x)))  # (B, 1280, 7, 7)
        late.append(maps.mean(dim=(2, 3)).numpy())
    return {"early": np.concatenate(early), "late": np.concatenate(late)}


_FEATURES: dict[str, dict[str, np.ndarray]] = {}  # image-array digest -> features
_FEATURES_KEPT = 8


def _features(images: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`efficientnet_features`, computed once per image array (three metrics share them)."""
    key = hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest() + str(images.shape)
    if key not in _FEATURES:
        if len(_FEATURES) >= _FEATURES_KEPT:
            _FEATURES.pop(next(iter(_FEATURES)))
        _FEATURES[key] = efficientnet_features(images)
    return _FEATURES[key]


def _feature_correlations(generated: ImageOutput, truth: ImageOutput, level: str) -> np.ndarray:
    g = _centred_unit_rows(_features(generated.images)[level].astype(np.float64))
    t = _centred_unit_rows(_features(truth.images)[level].astype(np.float64))
    return g @ t.T  # (n_generated, n_true)


@register_metric("effnet_early_two_way", kind="image", statistic="two_way")
def effnet_early(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Correlation of early-block EfficientNet-Lite0 activations, scored by 2-way identification."""
    return _feature_correlations(generated, truth, "early")


@register_metric("effnet_late_two_way", kind="image", statistic="two_way")
def effnet_late(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Correlation of final pooled EfficientNet-Lite0 features, scored by 2-way identification."""
    return _feature_correlations(generated, truth, "late")


@register_metric("effnet_early_retrieval", kind="image", statistic="top1")
def effnet_early_retrieval(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Early-block correlations, scored by top-1 retrieval of the true image among all."""
    return _feature_correlations(generated, truth, "early")


@register_metric("effnet_late_retrieval", kind="image", statistic="top1")
def effnet_late_retrieval(generated: ImageOutput, truth: ImageOutput) -> np.ndarray:
    """Final-feature correlations, scored by top-1 retrieval of the true image among all."""
    return _feature_correlations(generated, truth, "late")
