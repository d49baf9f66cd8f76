"""Pretrained pipelines conditioned on CLIP image embeddings, driven by target latents.

Brain latents live in the study's target space, not CLIP's. Generators of a local
pretrained diffusers pipeline that takes a CLIP image embedding (Stable unCLIP, Stable
Diffusion with an IP-Adapter) therefore embed the training stimulus images with the
pipeline's own CLIP image encoder and fit a ridge map from scaled target latents to those
embeddings; at generation the mapped embeddings condition the pipeline. This module holds
what they share: the local-folder check, the embedding of images, the fitted map with its
save/load, and the per-image random generators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from safetensors.torch import save_file

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.generators.base import Generator, StimulusSet
from pipeline.generators.latents import LatentScaler
from pipeline.generators.ridge import RidgeMap
from pipeline.io import read_json, write_json
from pipeline.weights import read_weights

logger = logging.getLogger(__name__)

WEIGHTS = "embedding_map.safetensors"  # latent statistics and the ridge map to CLIP embeddings


class PipelineOptions(Section):
    """Fitting options every embedding-map generator has (subclasses add the pipeline's path)."""

    batch_size: int = Field(16, ge=1, description="images per batch when embedding stimuli")
    device: Literal["cpu", "cuda"] = "cpu"


class PipelineSampling(Section):
    """Sampling options every embedding-map generator has (subclasses set their defaults)."""

    steps: int = Field(20, ge=1, le=1000, description="denoising steps")
    guidance_scale: float = Field(
        7.5, ge=0,
        description="classifier-free guidance (diffusers' convention: 1 or less is off)")
    prompt: str = Field("", description="text prompt given beside the image embedding")
    image_size: int | None = Field(
        None, ge=8, description="output side in pixels (a multiple of the VAE's scale); "
        "None: the pipeline's default")
    batch_size: int = Field(4, ge=1)


def require_local(path: str | Path, option: str, marker: str, expected: str) -> Path:
    """Return ``path`` if ``path / marker`` exists, else raise a one-line ParamsError.

    Parameters
    ----------
    path : str or Path
        A local folder named in the options (models are never downloaded).
    option : str
        The option that names it, e.g. ``generators.image.options.sd_ip_adapter.path``.
    marker : str
        A file the folder must hold (``model_index.json``, ``config.json``, a weight file).
    expected : str
        What the folder must be, for the message.

    Raises
    ------
    ParamsError
        If the folder or its marker file is missing.
    """
    folder = Path(path)
    if not (folder / marker).is_file():
        raise ParamsError(
            f"{option}: folder '{folder}' not found or without {marker}; expected {expected} "
            "(models are never downloaded)")
    return folder


@torch.no_grad()
def image_embeddings(encoder, processor, images: np.ndarray, batch_size: int) -> np.ndarray:
    """CLIP image embeddings of uint8 images.

    Parameters
    ----------
    encoder : transformers.CLIPVisionModelWithProjection
        The pipeline's image encoder.
    processor : transformers.CLIPImageProcessor
        Its preprocessing (resize, crop, normalise).
    images : ndarray, shape (n, H, W, 3), uint8
    batch_size : int

    Returns
    -------
    ndarray, shape (n, dim), float32
    """
    embeds = []
    for start in range(0, len(images), batch_size):
        pixels = processor(images=list(images[start:start + batch_size]),
                           return_tensors="pt").pixel_values
        pixels = pixels.to(device=encoder.device, dtype=encoder.dtype)
        embeds.append(encoder(pixels).image_embeds.float().cpu())  # (B, dim)
    return torch.cat(embeds).numpy()


def image_generators(seed: int, start: int, count: int, device: str) -> list[torch.Generator]:
    """One seeded generator per image ``start .. start + count - 1`` of a run, so that an
    image does not depend on the batch it is generated in."""
    return [torch.Generator(device).manual_seed(
        int(np.random.SeedSequence([seed, start + i]).generate_state(1)[0]))
        for i in range(count)]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Pipeline output in [0, 1] (n, H, W, 3) float -> uint8."""
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


class EmbeddingMapGenerator(Generator):
    """A pipeline generator whose fitted state is a latent scaler and a ridge map to CLIP
    image embeddings (the pipeline itself is not trained and stays in its folder).

    Subclasses set ``name`` (their registered name), ``Options`` (with a ``batch_size``)
    and ``Sampling``, and implement ``fit`` (with :meth:`fit_map`) and ``generate`` (with
    :meth:`embeddings`).
    """

    kind = "image"
    name: ClassVar[str]

    def __init__(self, options: Section, scaler: LatentScaler, embedding_map: RidgeMap) -> None:
        self.options, self.scaler, self.embedding_map = options, scaler, embedding_map

    @classmethod
    def fit_map(cls, options: Section, train: StimulusSet, val: StimulusSet,
                embed: Callable[[np.ndarray], np.ndarray], size: int) -> EmbeddingMapGenerator:
        """Fit the ridge map from scaled target latents to ``embed`` of the training images
        (read at ``size`` pixels), its penalty chosen on the validation images."""
        scaler = LatentScaler.fit(train.latents)
        x, y = {}, {}
        for name, split in (("train", train), ("val", val)):
            x[name] = scaler(split.latents, f"{name} latents")  # (n, dim)
            y[name] = embed(split.images(size))  # (n, clip_dim)
        logger.info("%s: embedded %d train and %d val images with the CLIP image encoder",
                    cls.name, len(train), len(val))
        ridge = RidgeMap.fit(x["train"], y["train"], x["val"], y["val"],
                             name=f"{cls.name}: latent -> CLIP image embedding map")
        return cls(options, scaler, ridge)

    def embeddings(self, latents: np.ndarray) -> torch.Tensor:
        """Map latents (n, dim) to CLIP image embeddings (n, clip_dim), float32 on the CPU."""
        return torch.from_numpy(self.embedding_map(
            self.scaler(np.asarray(latents), "latents to generate from")))

    def save(self, directory: Path) -> None:
        """Write config.json and the embedding map (safetensors); the pipeline stays where
        the options point."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {**self.scaler.tensors(), **self.embedding_map.tensors("embedding")}
        save_file(tensors, str(directory / WEIGHTS), metadata={"format": "pt"})
        write_json({"generator": self.name, "options": self.options.model_dump(mode="json"),
                    "latent_dim": self.scaler.dim}, directory / "config.json")

    @classmethod
    def load(cls, directory: Path) -> EmbeddingMapGenerator:
        """Read a generator written by :meth:`save`."""
        directory = Path(directory)
        options = cls.parse_options(read_json(directory / "config.json")["options"])
        tensors = read_weights(directory / WEIGHTS, f"{cls.name} embedding map")
        return cls(options, LatentScaler.from_tensors(tensors),
                   RidgeMap.from_tensors(tensors, "embedding"))
