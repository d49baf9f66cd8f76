"""``joint``: an image-text space trained here, on the training stimuli's image-caption pairs.

Projection heads over image features (EfficientNet-Lite0 by default, or any registered
image target) and MiniLM caption embeddings are fitted with a symmetric CLIP (InfoNCE) loss
on the pairs of the *training* stimuli; the validation pairs choose the epoch (early
stopping); test stimuli are only projected. The latents are the unit-norm image-side
embeddings of every stimulus; the caption side (``text_latents.npy``) and the heads
(``weights.safetensors``) are written beside them, so one brain latent can be matched to,
or decoded into, text of the same space (:func:`load_joint_space`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import read_json, require_file
from pipeline.targets.base import TARGETS, TargetOutput, register_target
from pipeline.targets.joint_heads import HeadsConfig, JointHeads
from pipeline.targets.joint_training import fit_heads
from pipeline.targets.minilm import embed_texts, minilm_caption_embeddings
from pipeline.targets.options import TargetsConfig
from pipeline.weights import read_weights

logger = logging.getLogger(__name__)


class JointOptions(Section):
    """``targets.options.joint``: inputs, heads and fit of the joint image-text space."""

    image_features: str = Field(
        "efficientnet_lite0", description="registered target giving the image features under "
        "the image head (its own options: targets.options.<name>); captions are embedded "
        "with MiniLM")
    dim: int = Field(256, ge=2, description="dimension of the joint space (the latents)")
    hidden: int = Field(0, ge=0, description="0: linear heads; > 0: MLP heads with one hidden "
                        "layer of this width")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the standardised input "
                           "features while training")
    temperature: float = Field(0.07, gt=0, description="initial softmax temperature, learnable")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    batch_size: int = Field(128, ge=2, description="image-caption pairs per InfoNCE batch")
    max_epochs: int = Field(300, ge=1)
    patience: int = Field(30, ge=1, description="epochs without a lower validation loss "
                          "before stopping; the best epoch's weights are kept")
    seed: int = Field(0, description="seeds initial weights, dropout and batch order")

    @field_validator("image_features")
    @classmethod
    def _image_target(cls, value: str) -> str:
        TARGETS.get(value)
        if value == "joint":
            raise ValueError("got 'joint'; expected another target (the joint space's input)")
        return value

    def heads(self) -> HeadsConfig:
        """The heads' architecture and fit."""
        return HeadsConfig(**self.model_dump(exclude={"image_features", "seed"}))


def split_rows(stimuli: pd.DataFrame, stimuli_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the row indices of the training and validation stimuli (test rows never).

    Raises
    ------
    DataError
        If there are fewer than 2 training or 2 validation stimuli.
    """
    split = stimuli["split"].to_numpy()
    train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if len(train) < 2 or len(val) < 2:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: found {len(train)} train and {len(val)} val "
            "stimuli; target 'joint' needs at least 2 of each (fit, early stopping)"
        )
    return train, val


@register_target("joint", options=JointOptions)
def joint_space(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame) -> TargetOutput:
    """Fit the joint heads on the training pairs; embed every stimulus's image and caption.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` (feature extraction) and ``options.joint`` (:class:`JointOptions`).
    stimuli_dir : Path
        The study's ``stimuli/`` folder.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (columns split, image, caption).

    Returns
    -------
    TargetOutput
        latents (n_stimuli, dim) and text_latents (n_stimuli, dim), unit norm; weights: the
        heads; info: the options and the fit (best epoch, validation loss and top-1);
        curves: the train and validation loss of every epoch.
    """
    options: JointOptions = cfg.settings("joint")
    train, val = split_rows(stimuli, stimuli_dir)
    image = TARGETS.get(options.image_features)(cfg, stimuli_dir, stimuli)
    image = np.asarray(getattr(image, "latents", image), dtype=np.float32)  # (n, n_image)
    text = minilm_caption_embeddings(cfg, stimuli_dir, stimuli)  # (n, 384)
    captions = stimuli["caption"].astype(str).tolist()
    heads, fit, curves = fit_heads(image, text, captions, train, val, options.heads(),
                                   options.seed)
    with torch.no_grad():
        latents = heads.embed("image", torch.from_numpy(image)).numpy()  # (n, dim)
        text_latents = heads.embed("text", torch.from_numpy(text)).numpy()  # (n, dim)
    weights = {key: value.numpy() for key, value in heads.state_dict().items()}
    info = {"options": options.model_dump(), "n_image": image.shape[1],
            "n_text": text.shape[1], "n_train": len(train), "n_val": len(val), **fit}
    return TargetOutput(latents=latents, text_latents=text_latents, weights=weights, info=info,
                        curves=curves)


class JointSpace:
    """The fitted ``joint`` space, read back from a targets folder.

    Parameters
    ----------
    heads : JointHeads
        The fitted heads, in eval mode.
    """

    def __init__(self, heads: JointHeads) -> None:
        self.heads = heads

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Return the unit-norm joint embeddings (n, dim) of any texts (MiniLM + text head)."""
        features = torch.from_numpy(embed_texts(texts))  # (n, 384)
        return self.heads.embed("text", features).numpy()

    @torch.no_grad()
    def embed_image_features(self, features: np.ndarray) -> np.ndarray:
        """Return the unit-norm joint embeddings (n, dim) of image features (n, n_image)."""
        return self.heads.embed("image", torch.from_numpy(features).float()).numpy()


def load_joint_space(targets_dir: str | Path) -> JointSpace:
    """Read the heads written by the ``joint`` target (``info.json`` + ``weights.safetensors``).

    Raises
    ------
    DataError
        If a file is missing or ``info.json`` is not a ``joint`` target's.
    """
    targets_dir = Path(targets_dir)
    info = read_json(require_file(targets_dir / "info.json", "the targets' info.json"))
    if info.get("name") != "joint":
        raise DataError(f"{targets_dir / 'info.json'}: target {info.get('name')!r}; expected "
                        "'joint' (the only target with text heads)")
    joint = info["joint"]
    options = JointOptions.model_validate(joint["options"])
    heads = JointHeads(joint["n_image"], joint["n_text"], options.heads())
    heads.load_state_dict(read_weights(targets_dir / "weights.safetensors",
                                       "the joint heads (safetensors)"))
    return JointSpace(heads.eval())

