"""A real pretrained image generator: diffusers' Stable unCLIP, from a local directory.

Stable unCLIP generates an image from a CLIP image embedding. Brain latents live in the
study's target space, not CLIP's, so :meth:`StableUnCLIPGenerator.fit` embeds the training
stimulus images with the pipeline's own image encoder and fits a ridge map from target
latents to those embeddings (any target space then drives the pipeline); generation feeds
the mapped embeddings to the pipeline as ``image_embeds``. The pipeline is read from
``options.path`` (a ``save_pretrained`` folder, e.g. a local copy of
stabilityai/stable-diffusion-2-1-unclip-small); nothing is downloaded.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from safetensors.torch import load_file, save_file

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.generators import register_generator
from pipeline.generators.base import Generator, ImageOutput, StimulusSet
from pipeline.generators.latents import LatentScaler
from pipeline.generators.ridge import RidgeMap
from pipeline.io import read_json, require_file, write_json

logger = logging.getLogger(__name__)

WEIGHTS = "embedding_map.safetensors"  # latent statistics and the ridge map to CLIP embeddings


class StableUnCLIPOptions(Section):
    """Fitting options of the ``stable_unclip`` image generator."""

    path: str = Field(description="local folder of a diffusers StableUnCLIPImg2ImgPipeline")
    batch_size: int = Field(16, ge=1, description="images per batch when embedding stimuli")
    device: Literal["cpu", "cuda"] = "cpu"


class StableUnCLIPSampling(Section):
    """Sampling options of the ``stable_unclip`` image generator (no refit when changed)."""

    steps: int = Field(20, ge=1, le=1000, description="denoising steps")
    guidance_scale: float = Field(
        10.0, ge=0,
        description="classifier-free guidance (diffusers' convention: 1 or less is off)")
    noise_level: int = Field(
        0, ge=0, description="noise added to the image embedding (unCLIP noise augmentation)")
    image_size: int | None = Field(
        None, ge=8, description="output side in pixels (a multiple of the VAE's scale); "
        "None: the pipeline's default")
    prompt: str = Field("", description="text prompt given beside the image embedding")
    batch_size: int = Field(4, ge=1)


@functools.lru_cache(maxsize=2)
def load_pipeline(path: str, device: str):
    """Load a StableUnCLIPImg2ImgPipeline from a local folder (never from a hub).

    Raises
    ------
    ParamsError
        If ``path`` holds no diffusers pipeline (no ``model_index.json``).
    """
    from diffusers import StableUnCLIPImg2ImgPipeline

    folder = Path(path)
    if not (folder / "model_index.json").is_file():
        raise ParamsError(
            f"generators.image.options.stable_unclip.path: folder '{folder}' not found or "
            "without model_index.json; expected a local StableUnCLIPImg2ImgPipeline saved with "
            "save_pretrained (models are never downloaded)")
    pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    logger.info("loaded Stable unCLIP from %s", folder)
    return pipe.to(device)


@torch.no_grad()
def image_embeddings(pipe, images: np.ndarray, batch_size: int) -> np.ndarray:
    """CLIP image embeddings (n, dim) of uint8 images (n, H, W, 3) by the pipeline's encoder."""
    encoder = pipe.image_encoder
    embeds = []
    for start in range(0, len(images), batch_size):
        pixels = pipe.feature_extractor(images=list(images[start:start + batch_size]),
                                        return_tensors="pt").pixel_values
        pixels = pixels.to(device=encoder.device, dtype=encoder.dtype)
        embeds.append(encoder(pixels).image_embeds.float().cpu())  # (B, dim)
    return torch.cat(embeds).numpy()


@register_generator("stable_unclip")
class StableUnCLIPGenerator(Generator):
    """Stable unCLIP driven by target latents through a ridge map to CLIP image embeddings."""

    kind = "image"
    Options = StableUnCLIPOptions
    Sampling = StableUnCLIPSampling

    def __init__(self, options: StableUnCLIPOptions, scaler: LatentScaler,
                 embedding_map: RidgeMap) -> None:
        self.options, self.scaler, self.embedding_map = options, scaler, embedding_map

    @classmethod
    def fit(cls, options: StableUnCLIPOptions, train: StimulusSet, val: StimulusSet, seed: int,
            ) -> StableUnCLIPGenerator:
        """Fit the ridge map from target latents to the pipeline's embeddings of the training
        images (its penalty chosen on the validation images); the pipeline is not trained."""
        pipe = load_pipeline(options.path, options.device)
        size = pipe.feature_extractor.crop_size["height"]
        scaler = LatentScaler.fit(train.latents)
        x, y = {}, {}
        for name, split in (("train", train), ("val", val)):
            x[name] = scaler(split.latents, f"{name} latents")  # (n, dim)
            y[name] = image_embeddings(pipe, split.images(size), options.batch_size)
        logger.info("embedded %d train and %d val images with the pipeline's image encoder",
                    len(train), len(val))
        ridge = RidgeMap.fit(x["train"], y["train"], x["val"], y["val"],
                             name="latent -> CLIP image embedding map")
        return cls(options, scaler, ridge)

    def save(self, directory: Path) -> None:
        """Write config.json and the embedding map (safetensors); the pipeline stays where
        ``options.path`` points."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {**self.scaler.tensors(), **self.embedding_map.tensors("embedding")}
        save_file(tensors, str(directory / WEIGHTS), metadata={"format": "pt"})
        write_json({"generator": "stable_unclip", "options": self.options.model_dump(mode="json"),
                    "latent_dim": self.scaler.dim}, directory / "config.json")

    @classmethod
    def load(cls, directory: Path) -> StableUnCLIPGenerator:
        """Read a generator written by :meth:`save`."""
        directory = Path(directory)
        options = cls.parse_options(read_json(directory / "config.json")["options"])
        tensors = load_file(str(require_file(directory / WEIGHTS, "Stable unCLIP embedding map")))
        return cls(options, LatentScaler.from_tensors(tensors),
                   RidgeMap.from_tensors(tensors, "embedding"))

    @torch.no_grad()
    def generate(self, latents: np.ndarray, sampling: StableUnCLIPSampling, seed: int
                 ) -> ImageOutput:
        """Generate one image per latent (n, dim), deterministically per ``seed``.

        Returns
        -------
        ImageOutput
            ``images``: (n, size, size, 3) uint8.
        """
        pipe = load_pipeline(self.options.path, self.options.device)
        embeds = torch.from_numpy(self.embedding_map(
            self.scaler(np.asarray(latents), "latents to generate from")))  # (n, clip_dim)
        size = sampling.image_size or pipe.unet.config.sample_size * pipe.vae_scale_factor
        images = []
        for start in range(0, len(embeds), sampling.batch_size):
            batch = embeds[start:start + sampling.batch_size].to(self.options.device, pipe.dtype)
            generator = [torch.Generator(self.options.device).manual_seed(
                int(np.random.SeedSequence([seed, start + i]).generate_state(1)[0]))
                for i in range(len(batch))]  # one per image: outputs do not depend on batching
            out = pipe(prompt=[sampling.prompt] * len(batch), image_embeds=batch,
                       noise_level=sampling.noise_level, num_inference_steps=sampling.steps,
                       guidance_scale=sampling.guidance_scale, height=size, width=size,
                       generator=generator, output_type="np")
            images.append((np.clip(out.images, 0.0, 1.0) * 255).round().astype(np.uint8))
        logger.info("generated %d images with Stable unCLIP (%d steps)", len(embeds),
                    sampling.steps)
        if not images:
            return ImageOutput(np.zeros((0, size, size, 3), np.uint8))
        return ImageOutput(np.concatenate(images))
