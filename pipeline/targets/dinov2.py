"""``dinov2``: DINOv2 image features (transformers) from a local ``save_pretrained`` folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.io import read_rgb
from pipeline.targets.base import local_folder, register_target
from pipeline.targets.options import TargetsConfig

logger = logging.getLogger(__name__)

KEY = "targets.options.dinov2"
MODEL_TYPES = ("dinov2", "dinov2_with_registers")


class Dinov2Options(Section):
    """``targets.options.dinov2``: the local DINOv2 model and how its tokens are pooled."""

    model: str = Field(
        description="local folder written by save_pretrained (config.json, model.safetensors, "
        "preprocessor_config.json) of a Dinov2Model or Dinov2WithRegistersModel, relative to "
        "the project root or absolute; never downloaded")
    pooling: Literal["cls", "mean", "cls_mean"] = Field(
        "cls", description="cls: the final-layer-normed CLS token; mean: the mean of the patch "
        "tokens; cls_mean: both, concatenated (DINOv2's linear-probe features)")


def load_dinov2(options: Dinov2Options):
    """Load the model (eval, CPU) and its image processor from the local folder.

    Raises
    ------
    ParamsError
        One line naming the folder and the params key if it is missing, is not a DINOv2
        model, or lacks a file.
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    folder = local_folder(options.model, f"{KEY}.model",
                          "a DINOv2 folder written by save_pretrained")
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        if config.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {config.model_type!r} is not one of {MODEL_TYPES}")
        processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise ParamsError(
            f"params.yaml {KEY}.model: could not load {str(folder)!r} ({reason}); expected a "
            "DINOv2 model and image processor written by save_pretrained") from None
    logger.info("loaded %s from %s", type(model).__name__, folder)
    return model.eval(), processor


def pool(hidden: torch.Tensor, n_registers: int, pooling: str) -> torch.Tensor:
    """Pool the final tokens (B, 1 + n_registers + n_patches, D) into (B, D) or (B, 2 D)."""
    cls, patches = hidden[:, 0], hidden[:, 1 + n_registers:].mean(dim=1)
    return {"cls": cls, "mean": patches, "cls_mean": torch.cat([cls, patches], dim=1)}[pooling]


@register_target("dinov2", options=Dinov2Options)
@torch.no_grad()
def dinov2_features(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
                    ) -> np.ndarray:
    """Return the pooled DINOv2 features of each stimulus image.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` and ``options.dinov2`` (:class:`Dinov2Options`).
    stimuli_dir : Path
        The study's ``stimuli/`` folder; image paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``image``).

    Returns
    -------
    ndarray, shape (n_stimuli, hidden_size) or (n_stimuli, 2 * hidden_size) for cls_mean
        float32 features, as the model gives them (not normalised).
    """
    options: Dinov2Options = cfg.settings("dinov2")
    model, processor = load_dinov2(options)
    n_registers = getattr(model.config, "num_register_tokens", 0)
    paths = [stimuli_dir / name for name in stimuli["image"]]
    features = []
    for start in range(0, len(paths), cfg.batch_size):
        images = [read_rgb(path) for path in paths[start:start + cfg.batch_size]]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]  # (B, 3, H, W)
        hidden = model(pixel_values=pixels).last_hidden_state  # (B, tokens, D)
        features.append(pool(hidden, n_registers, options.pooling))
    return torch.cat(features).numpy()
