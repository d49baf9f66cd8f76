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

import numpy as np
import torch
from pydantic import Field

from pipeline.generators import register_generator
from pipeline.generators.base import ImageOutput, StimulusSet
from pipeline.generators.image.embedding_map import (
    EmbeddingMapGenerator,
    PipelineOptions,
    PipelineSampling,
    image_embeddings,
    image_generators,
    require_local,
    to_uint8,
)

logger = logging.getLogger(__name__)


class StableUnCLIPOptions(PipelineOptions):
    """Fitting options of the ``stable_unclip`` image generator."""

    path: str = Field(description="local folder of a diffusers StableUnCLIPImg2ImgPipeline")


class StableUnCLIPSampling(PipelineSampling):
    """Sampling options of the ``stable_unclip`` image generator (no refit when changed)."""

    guidance_scale: float = Field(
        10.0, ge=0,
        description="classifier-free guidance (diffusers' convention: 1 or less is off)")
    noise_level: int = Field(
        0, ge=0, description="noise added to the image embedding (unCLIP noise augmentation)")


@functools.lru_cache(maxsize=2)
def load_pipeline(path: str, device: str):
    """Load a StableUnCLIPImg2ImgPipeline from a local folder (never from a hub).

    Raises
    ------
    ParamsError
        If ``path`` holds no diffusers pipeline (no ``model_index.json``).
    """
    from diffusers import StableUnCLIPImg2ImgPipeline

    folder = require_local(path, "generators.image.options.stable_unclip.path",
                           "model_index.json", "a local StableUnCLIPImg2ImgPipeline saved with "
                           "save_pretrained")
    pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    logger.info("loaded Stable unCLIP from %s", folder)
    return pipe.to(device)


@register_generator("stable_unclip")
class StableUnCLIPGenerator(EmbeddingMapGenerator):
    """Stable unCLIP driven by target latents through a ridge map to CLIP image embeddings."""

    name = "stable_unclip"
    Options = StableUnCLIPOptions
    Sampling = StableUnCLIPSampling

    @classmethod
    def fit(cls, options: StableUnCLIPOptions, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> StableUnCLIPGenerator:
        """Fit the ridge map from target latents to the pipeline's embeddings of the training
        images (its penalty chosen on the validation images); the pipeline is not trained."""
        pipe = load_pipeline(options.path, options.device)
        return cls.fit_map(
            options, train, val, size=pipe.feature_extractor.crop_size["height"],
            embed=lambda images: image_embeddings(pipe.image_encoder, pipe.feature_extractor,
                                                  images, options.batch_size))

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
        embeds = self.embeddings(latents)  # (n, clip_dim)
        size = sampling.image_size or pipe.unet.config.sample_size * pipe.vae_scale_factor
        images = []
        for start in range(0, len(embeds), sampling.batch_size):
            batch = embeds[start:start + sampling.batch_size].to(self.options.device, pipe.dtype)
            generator = image_generators(seed, start, len(batch), self.options.device)
            out = pipe(prompt=[sampling.prompt] * len(batch), image_embeds=batch,
                       noise_level=sampling.noise_level, num_inference_steps=sampling.steps,
                       guidance_scale=sampling.guidance_scale, height=size, width=size,
                       generator=generator, output_type="np")
            images.append(to_uint8(out.images))
        logger.info("generated %d images with Stable unCLIP (%d steps)", len(embeds),
                    sampling.steps)
        if not images:
            return ImageOutput(np.zeros((0, size, size, 3), np.uint8))
        return ImageOutput(np.concatenate(images))
