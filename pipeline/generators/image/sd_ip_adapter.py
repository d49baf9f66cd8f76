"""A real pretrained image generator: Stable Diffusion (1.x/2.x or XL) with an IP-Adapter.

An IP-Adapter conditions Stable Diffusion on a CLIP image embedding (of its own CLIP image
encoder) beside the text prompt. :meth:`SDIPAdapterGenerator.fit` embeds the training and
validation stimulus images with that encoder and fits a ridge map from target latents to
the embeddings (see :mod:`pipeline.generators.image.embedding_map`); generation passes the
mapped embeddings as ``ip_adapter_image_embeds``. Everything is read from local folders
named in the options (``path``: the pipeline saved with ``save_pretrained``;
``ip_adapter_path``/``ip_adapter_subfolder``/``ip_adapter_weight_name``: the adapter
weights, laid out as in h94/IP-Adapter; ``image_encoder_path``: the
CLIPVisionModelWithProjection); nothing is downloaded. Only the plain IP-Adapter (a linear
projection of the pooled CLIP embedding, ``image_proj.proj.weight``) is supported: the Plus
and FaceID variants condition on other features than one embedding per image.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from pipeline.errors import ParamsError
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
from pipeline.io import read_json

logger = logging.getLogger(__name__)

OPTION = "generators.image.options.sd_ip_adapter"


class SDIPAdapterOptions(PipelineOptions):
    """Fitting options of the ``sd_ip_adapter`` image generator."""

    path: str = Field(description="local folder of a diffusers StableDiffusionPipeline "
                      "(StableDiffusionXLPipeline when xl)")
    xl: bool = Field(False, description="the pipeline is Stable Diffusion XL")
    ip_adapter_path: str = Field(description="local folder holding the IP-Adapter weights")
    ip_adapter_subfolder: str = Field(
        "models", description="subfolder of ip_adapter_path with the weight file "
        "(diffusers' load_ip_adapter subfolder; '' for none)")
    ip_adapter_weight_name: str = Field(
        "ip-adapter_sd15.safetensors",
        description="weight file (safetensors or torch) with image_proj and ip_adapter entries")
    image_encoder_path: str | None = Field(
        None, description="local folder of the adapter's CLIPVisionModelWithProjection; "
        "None: <ip_adapter_path>/<ip_adapter_subfolder>/image_encoder, diffusers' layout")


class SDIPAdapterSampling(PipelineSampling):
    """Sampling options of the ``sd_ip_adapter`` image generator (no refit when changed)."""

    steps: int = Field(30, ge=1, le=1000, description="denoising steps")
    ip_adapter_scale: float = Field(
        1.0, ge=0, description="weight of the image embedding against the text prompt")


def encoder_folder(options: SDIPAdapterOptions) -> Path:
    """The image encoder's folder: ``image_encoder_path`` or diffusers' default beside the
    adapter weights."""
    if options.image_encoder_path is not None:
        return Path(options.image_encoder_path)
    return Path(options.ip_adapter_path) / options.ip_adapter_subfolder / "image_encoder"


def load(options: SDIPAdapterOptions):
    """The pipeline with its adapter and the encoder's image processor, for ``options``."""
    return load_pipeline(options.path, options.xl, options.ip_adapter_path,
                         options.ip_adapter_subfolder, options.ip_adapter_weight_name,
                         str(encoder_folder(options)), options.device)


def per_image_embeds(ip_adapter_image, ip_adapter_image_embeds: list[torch.Tensor], device,
                     num_images: int, guided: bool) -> list[torch.Tensor]:
    """Replacement of the pipelines' ``prepare_ip_adapter_image_embeds``: the embeddings as
    given, one row per image of the batch.

    diffusers (0.42) repeats given embeddings ``batch size`` times, as if one reference
    image served the whole batch, so with one embedding per image each image would attend
    to all of the batch's embeddings (huggingface/diffusers#9813) and its output would
    depend on the batch it is in.

    Parameters
    ----------
    ip_adapter_image : None
        Unused: only embeddings are given.
    ip_adapter_image_embeds : list of Tensor, one of shape (num_images, 1, clip_dim)
        ``(2 * num_images, 1, clip_dim)`` with guidance: the negative embeddings first.
    device : torch.device
    num_images : int
        Images in the batch (the pipelines pass batch size x images per prompt).
    guided : bool
        Classifier-free guidance is on.

    Raises
    ------
    ValueError
        If the embeddings have not one row per image (and per guidance branch).
    """
    rows = (2 if guided else 1) * num_images
    if ip_adapter_image is not None or [len(e) for e in ip_adapter_image_embeds] != [rows]:
        raise ValueError(f"sd_ip_adapter: expected one embedding tensor of {rows} rows for "
                         f"{num_images} images (guidance {guided}); got "
                         f"{[tuple(e.shape) for e in ip_adapter_image_embeds or []]}")
    return [embeds.to(device) for embeds in ip_adapter_image_embeds]


@functools.lru_cache(maxsize=2)
def load_pipeline(path: str, xl: bool, ip_adapter_path: str, subfolder: str, weight_name: str,
                  image_encoder_path: str, device: str):
    """Load Stable Diffusion (XL) with an IP-Adapter from local folders (never from a hub).

    Returns
    -------
    pipe : StableDiffusionPipeline or StableDiffusionXLPipeline
        With the adapter loaded into its UNet, the image encoder registered and
        ``prepare_ip_adapter_image_embeds`` replaced by :func:`per_image_embeds`.
    processor : transformers.CLIPImageProcessor
        The encoder's preprocessing (its ``preprocessor_config.json``, else diffusers'
        default at the encoder's input size).

    Raises
    ------
    ParamsError
        If a folder or the weight file is missing, the pipeline is not of the kind ``xl``
        says, or the adapter is not a plain IP-Adapter matching the encoder.
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    from diffusers.models.embeddings import ImageProjection
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    kind = "StableDiffusionXLPipeline" if xl else "StableDiffusionPipeline"
    folder = require_local(path, f"{OPTION}.path", "model_index.json",
                           f"a local diffusers {kind} saved with save_pretrained")
    weights = Path(subfolder, weight_name)
    adapter = require_local(ip_adapter_path, f"{OPTION}.ip_adapter_path", str(weights),
                            "IP-Adapter weights with image_proj and ip_adapter entries "
                            "(ip_adapter_subfolder/ip_adapter_weight_name)")
    saved = read_json(folder / "model_index.json")["_class_name"]
    if ("XL" in saved) != xl:
        raise ParamsError(f"{OPTION}.xl: {folder} holds a {saved}; expected a {kind} "
                          f"(set xl: {str(not xl).lower()})")
    encoder_dir = require_local(image_encoder_path, f"{OPTION}.image_encoder_path", "config.json",
                                "a local CLIPVisionModelWithProjection saved with save_pretrained")
    encoder = CLIPVisionModelWithProjection.from_pretrained(encoder_dir, local_files_only=True)
    if (encoder_dir / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessor.from_pretrained(encoder_dir, local_files_only=True)
    else:
        side = encoder.config.image_size
        processor = CLIPImageProcessor(size=side, crop_size=side)
    pipeline_class = StableDiffusionXLPipeline if xl else StableDiffusionPipeline
    extra = {"add_watermarker": False} if xl else {}  # the watermark would alter the images
    pipe = pipeline_class.from_pretrained(folder, image_encoder=encoder.eval(),
                                          local_files_only=True, **extra)
    pipe.load_ip_adapter(str(adapter), subfolder=subfolder, weight_name=weight_name,
                         image_encoder_folder=None, local_files_only=True)
    projection = pipe.unet.encoder_hid_proj.image_projection_layers[0]
    if not isinstance(projection, ImageProjection):
        raise ParamsError(
            f"{OPTION}.ip_adapter_weight_name: {adapter / weights} is a "
            f"{type(projection).__name__} adapter; expected a plain IP-Adapter "
            "(image_proj.proj.weight), which conditions on one CLIP image embedding")
    if projection.image_embeds.in_features != encoder.config.projection_dim:
        raise ParamsError(
            f"{OPTION}.image_encoder_path: {encoder_dir} embeds images in "
            f"{encoder.config.projection_dim} dimensions; the adapter {adapter / weights} "
            f"expects {projection.image_embeds.in_features} (use the adapter's own encoder)")
    pipe.prepare_ip_adapter_image_embeds = per_image_embeds
    pipe.set_progress_bar_config(disable=True)
    logger.info("loaded %s from %s with the IP-Adapter %s", kind, folder, adapter / weights)
    return pipe.to(device), processor


@register_generator("sd_ip_adapter")
class SDIPAdapterGenerator(EmbeddingMapGenerator):
    """Stable Diffusion with an IP-Adapter, driven by target latents through a ridge map to
    the adapter's CLIP image embeddings."""

    name = "sd_ip_adapter"
    Options = SDIPAdapterOptions
    Sampling = SDIPAdapterSampling

    @classmethod
    def fit(cls, options: SDIPAdapterOptions, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> SDIPAdapterGenerator:
        """Fit the ridge map from target latents to the adapter encoder's embeddings of the
        training images (its penalty chosen on the validation images); nothing else is
        trained."""
        pipe, processor = load(options)
        return cls.fit_map(
            options, train, val, size=processor.crop_size["height"],
            embed=lambda images: image_embeddings(pipe.image_encoder, processor, images,
                                                  options.batch_size))

    @torch.no_grad()
    def generate(self, latents: np.ndarray, sampling: SDIPAdapterSampling, seed: int
                 ) -> ImageOutput:
        """Generate one image per latent (n, dim), deterministically per ``seed``.

        Returns
        -------
        ImageOutput
            ``images``: (n, size, size, 3) uint8.
        """
        pipe, _ = load(self.options)
        pipe.set_ip_adapter_scale(sampling.ip_adapter_scale)
        embeds = self.embeddings(latents)[:, None]  # (n, 1 image, clip_dim)
        size = sampling.image_size or pipe.unet.config.sample_size * pipe.vae_scale_factor
        # diffusers' test for guidance; with it the embeddings are [negative; positive], the
        # negative being zeros as when the pipeline embeds images itself (see per_image_embeds)
        guided = sampling.guidance_scale > 1 and pipe.unet.config.time_cond_proj_dim is None
        images = []
        for start in range(0, len(embeds), sampling.batch_size):
            batch = embeds[start:start + sampling.batch_size]  # (B, 1, clip_dim)
            count = len(batch)
            if guided:
                batch = torch.cat([torch.zeros_like(batch), batch])  # (2B, 1, clip_dim)
            out = pipe(prompt=[sampling.prompt] * count,
                       ip_adapter_image_embeds=[batch.to(self.options.device, pipe.dtype)],
                       num_inference_steps=sampling.steps, guidance_scale=sampling.guidance_scale,
                       height=size, width=size, output_type="np",
                       generator=image_generators(seed, start, count, self.options.device))
            images.append(to_uint8(out.images))
        logger.info("generated %d images with %s + IP-Adapter (%d steps)", len(embeds),
                    "SDXL" if self.options.xl else "SD", sampling.steps)
        if not images:
            return ImageOutput(np.zeros((0, size, size, 3), np.uint8))
        return ImageOutput(np.concatenate(images))
