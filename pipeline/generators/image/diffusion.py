"""The default image generator: a conditional pixel-space diffusion model trained here.

A diffusers UNet (DDPM training, DDIM sampling) learns the study's training stimulus images
conditioned on their target latents (L2-normalised, noised at train time, projected into the
UNet's time embedding), with classifier-free guidance. An optional low-level branch
(MindEye's blurry reconstruction) maps the latent to a low-resolution image by ridge
regression; sampling then starts from that image, noised (img2img / SDEdit). An optional
diffusion prior (MindEye, unCLIP; :mod:`pipeline.generators.image.prior`) first maps each
latent to a plausible true latent of the target space.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from pydantic import Field, model_validator
from safetensors.torch import save_file

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.generators import register_generator
from pipeline.generators.base import Generator, ImageOutput, StimulusSet
from pipeline.generators.image.diffusion_model import (
    ConditionEncoder,
    build_unet,
    patchify,
    unpatchify,
)
from pipeline.generators.image.diffusion_sample import ddim_sample
from pipeline.generators.image.diffusion_train import Conditioner, Schedule, Split, train_loop
from pipeline.generators.image.low_level import blurry_images, fit_low_level, to_pixels, to_uint8
from pipeline.generators.image.prior import DiffusionPrior, PriorNet, PriorSchedule, prior_scheduler
from pipeline.generators.latents import LatentScaler, l2_normalise
from pipeline.generators.ridge import RidgeMap
from pipeline.io import read_json, require_file, write_json
from pipeline.lightning_runs import write_curves
from pipeline.weights import read_weights

logger = logging.getLogger(__name__)

WEIGHTS = "conditioning.safetensors"  # condition encoder, latent statistics, low-level map, prior


class DiffusionOptions(Section):
    """Fitting options of the ``diffusion`` image generator."""

    image_size: int = Field(32, ge=8, description="side of the generated images (pixels)")
    patch_size: int = Field(
        4, ge=1, le=8, description="side of the pixel patches the UNet sees as one position")
    block_out_channels: tuple[int, ...] = Field(
        (64, 64), min_length=2, description="UNet channels per resolution level")
    layers_per_block: int = Field(1, ge=1, le=4)
    steps: int = Field(600, ge=1, description="training steps (batches)")
    eval_every: int = Field(100, ge=1, description="steps between validation losses")
    lr: float = Field(2e-3, gt=0, le=1)
    batch_size: int = Field(32, ge=1)
    cond_dropout: float = Field(
        0.1, ge=0, lt=1, description="probability of dropping the condition (for guidance)")
    condition_noise: float = Field(
        1.5, ge=0, description="largest train-time noise norm relative to the unit latent "
        "(1.73 means cosine 0.5 with the clean latent)")
    num_train_timesteps: int = Field(1000, ge=10)
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = Field(
        "sample", description="what the UNet predicts: the noise, v, or the clean image (x0, "
        "which learns fastest at CPU budgets)")
    low_level: bool = Field(True, description="fit the blurry low-level branch (ridge)")
    low_level_size: int = Field(8, ge=2, description="side of the low-level image (pixels)")
    prior: bool = Field(
        False, description="fit a diffusion prior that maps each latent to a plausible true "
        "latent before conditioning (MindEye / unCLIP)")
    prior_steps: int = Field(1200, ge=1, description="training steps of the prior (batches of "
                             "batch_size, validation loss every eval_every)")
    prior_width: int = Field(256, ge=8, description="hidden width of the prior's residual MLP")
    prior_depth: int = Field(2, ge=1, le=8, description="residual blocks of the prior")
    prior_lr: float = Field(1e-3, gt=0, le=1, description="peak learning rate of the prior")
    prior_noise: float = Field(
        2.0, ge=0, description="largest noise norm of the prior's corrupted training latents, "
        "relative to the unit latent (2.0 reaches cosine 0.45)")

    @model_validator(mode="after")
    def _sizes(self) -> DiffusionOptions:
        factor = self.patch_size * 2 ** (len(self.block_out_channels) - 1)
        if self.image_size % factor or self.image_size // factor < 2:
            raise ValueError(
                f"image_size {self.image_size} with patch_size {self.patch_size} and "
                f"{len(self.block_out_channels)} UNet levels: expected a multiple of {factor} "
                f"of at least {2 * factor}")
        if any(c % 8 for c in self.block_out_channels):
            raise ValueError(f"block_out_channels {list(self.block_out_channels)}: expected "
                             "multiples of 8")
        if self.low_level_size > self.image_size:
            raise ValueError(f"low_level_size {self.low_level_size}: expected at most "
                             f"image_size ({self.image_size})")
        return self


class DiffusionSampling(Section):
    """Sampling options of the ``diffusion`` image generator (no refit when changed)."""

    steps: int = Field(25, ge=1, le=1000, description="DDIM steps")
    guidance_scale: float = Field(
        2.0, ge=0, description="0: unconditional; 1: conditional only; > 1: classifier-free "
        "guidance")
    init_strength: float = Field(
        0.7, ge=0, le=1, description="with the low-level branch: how far the blurry image is "
        "noised before denoising (1: pure noise, 0: the blurry image itself)")
    batch_size: int = Field(64, ge=1)
    prior_steps: int = Field(10, ge=1, le=1000, description="DDIM steps of the diffusion prior "
                             "(when fitted; 1 gives its estimate of the mean)")


@register_generator("diffusion")
class DiffusionGenerator(Generator):
    """Conditional pixel diffusion, fitted on the training stimuli of a study."""

    kind = "image"
    Options = DiffusionOptions
    Sampling = DiffusionSampling

    def __init__(self, options: DiffusionOptions, unet: UNet2DModel, encoder: ConditionEncoder,
                 scaler: LatentScaler, scheduler: DDPMScheduler, low_level: RidgeMap | None,
                 history: list[dict[str, float]], prior: DiffusionPrior | None = None) -> None:
        self.options, self.unet, self.encoder = options, unet.eval(), encoder.eval()
        self.scaler, self.scheduler, self.low_level = scaler, scheduler, low_level
        self.history, self.prior = history, prior

    @classmethod
    def _networks(cls, options: DiffusionOptions, latent_dim: int
                  ) -> tuple[UNet2DModel, ConditionEncoder]:
        unet = build_unet(options.image_size, options.patch_size, options.block_out_channels,
                          options.layers_per_block)
        return unet, ConditionEncoder(latent_dim, unet.config.block_out_channels[0] * 4)

    @classmethod
    def _prior_net(cls, options: DiffusionOptions, latent_dim: int) -> PriorNet:
        return PriorNet(latent_dim, options.prior_width, options.prior_depth)

    @classmethod
    def fit(cls, options: DiffusionOptions, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> DiffusionGenerator:
        """Fit on the training stimuli; the validation loss selects the kept weights.

        The UNet and the prior are Lightning runs; with ``checkpoint_dir``, each keeps its
        checkpoints there (``diffusion/``, ``prior/``) and a fit killed part way resumes.

        Raises
        ------
        DataError
            If the training or validation split is empty.
        """
        for name, split in (("train", train), ("val", val)):
            if len(split) == 0:
                raise DataError(f"{train.root / 'stimuli.tsv'}: no {name} stimuli; the "
                                "diffusion generator needs both train and val stimuli")
        scaler = LatentScaler.fit(train.latents)
        pixels = {name: to_pixels(split.images(options.image_size))  # (n, 3, S, S)
                  for name, split in (("train", train), ("val", val))}
        unit = {name: l2_normalise(split.latents, f"{name} latents")  # (n, dim)
                for name, split in (("train", train), ("val", val))}
        low_level = None
        if options.low_level:
            low_level = fit_low_level(scaler.transform(unit["train"]), pixels["train"],
                                      scaler.transform(unit["val"]), pixels["val"],
                                      options.low_level_size)
        data = {name: Split(patchify(pixels[name], options.patch_size),
                            torch.from_numpy(unit[name])) for name in pixels}
        scheduler = DDPMScheduler(num_train_timesteps=options.num_train_timesteps,
                                  beta_schedule="squaredcos_cap_v2",
                                  prediction_type=options.prediction_type,
                                  timestep_spacing="trailing")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            unet, encoder = cls._networks(options, scaler.dim)
        conditioner = Conditioner(encoder, torch.from_numpy(scaler.mean), scaler.scale)
        schedule = Schedule(options.steps, options.batch_size, options.lr, options.cond_dropout,
                            options.condition_noise, options.eval_every)
        logger.info("fitting the diffusion generator on %d train images (%d px), %d val",
                    len(train), options.image_size, len(val))
        history = train_loop(unet, conditioner, scheduler, data["train"], data["val"], schedule,
                             seed, checkpoint_dir and Path(checkpoint_dir) / "diffusion")
        prior = cls.fit_prior(options, scaler, unit["train"], unit["val"], seed,
                              checkpoint_dir and Path(checkpoint_dir) / "prior") \
            if options.prior else None
        return cls(options, unet, encoder, scaler, scheduler, low_level, history, prior)

    @classmethod
    def fit_prior(cls, options: DiffusionOptions, scaler: LatentScaler, train_unit: np.ndarray,
                  val_unit: np.ndarray, seed: int, checkpoint_dir: Path | None = None,
                  ) -> DiffusionPrior:
        """Fit the diffusion prior alone (``options.prior_*``, batch_size, eval_every).

        Parameters
        ----------
        scaler : LatentScaler
            Fitted on the training latents.
        train_unit, val_unit : ndarray, shape (n, dim)
            L2-normalised training latents (learnt) and validation latents (selection).
        seed : int
            Seeds the initial weights and every draw of the training.
        checkpoint_dir : Path, optional
            Keeps the checkpoints of the run (see :func:`~.step_training.fit_steps`).
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = cls._prior_net(options, scaler.dim)
        schedule = PriorSchedule(options.prior_steps, options.batch_size, options.prior_lr,
                                 options.prior_noise, options.eval_every)
        logger.info("fitting the diffusion prior on %d train latents (dim %d)", len(train_unit),
                    scaler.dim)
        return DiffusionPrior.fit(net, prior_scheduler(options.num_train_timesteps), scaler,
                                  train_unit, val_unit, schedule, seed, checkpoint_dir)

    def save(self, directory: Path) -> None:
        """Write config.json, unet/ and scheduler/ (diffusers, safetensors), the
        conditioning weights (with the prior's, if fitted) and the training curves
        (``history.csv``, ``prior_history.csv``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(directory / "unet", safe_serialization=True)
        self.scheduler.save_pretrained(directory / "scheduler")
        tensors = {f"encoder.{k}": v.contiguous() for k, v in self.encoder.state_dict().items()}
        tensors.update(self.scaler.tensors())
        if self.low_level is not None:
            tensors.update(self.low_level.tensors("low_level"))
        config = {"generator": "diffusion", "options": self.options.model_dump(mode="json"),
                  "latent_dim": self.scaler.dim, "history": self.history}
        if self.prior is not None:
            tensors.update(self.prior.tensors("prior"))
            config["prior_history"] = self.prior.history
            write_curves(self.prior.history, directory / "prior_history.csv")
        write_curves(self.history, directory / "history.csv")
        save_file(tensors, str(directory / WEIGHTS), metadata={"format": "pt"})
        write_json(config, directory / "config.json")

    @classmethod
    def load(cls, directory: Path) -> DiffusionGenerator:
        """Read a generator written by :meth:`save`."""
        directory = Path(directory)
        config = read_json(directory / "config.json")
        options = cls.parse_options(config["options"])
        tensors = read_weights(directory / WEIGHTS, "diffusion generator weights")
        require_file(directory / "unet" / "config.json", "the diffusion generator's UNet")
        require_file(directory / "scheduler" / "scheduler_config.json", "its noise schedule")
        unet = UNet2DModel.from_pretrained(directory / "unet", local_files_only=True)
        scheduler = DDPMScheduler.from_pretrained(directory / "scheduler", local_files_only=True)
        _, encoder = cls._networks(options, int(config["latent_dim"]))
        encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in tensors.items()
                                 if k.startswith("encoder.")})
        low_level = RidgeMap.from_tensors(tensors, "low_level") if options.low_level else None
        scaler = LatentScaler.from_tensors(tensors)
        prior = None
        if options.prior:
            net = cls._prior_net(options, scaler.dim)
            net.load_state_dict({k.removeprefix("prior."): v for k, v in tensors.items()
                                 if k.startswith("prior.")})
            prior = DiffusionPrior(net, prior_scheduler(options.num_train_timesteps), scaler,
                                   config["prior_history"])
        return cls(options, unet, encoder, scaler, scheduler, low_level, config["history"],
                   prior)

    def generate(self, latents: np.ndarray, sampling: DiffusionSampling, seed: int
                 ) -> ImageOutput:
        """Generate one image per latent (n, dim), deterministically per ``seed``.

        With a prior, each latent is first replaced by the prior's sample given it.

        Returns
        -------
        ImageOutput
            ``images``: (n, image_size, image_size, 3) uint8.
        """
        return self._sample(latents, None, sampling, seed)

    def generate_projected(self, latents: np.ndarray, projected: np.ndarray,
                           sampling: DiffusionSampling, seed: int) -> ImageOutput:
        """Condition on the ``projected`` latents; the low-level branch reads ``latents``."""
        return self._sample(projected, latents, sampling, seed)

    @torch.no_grad()
    def _sample(self, latents: np.ndarray, low_level_latents: np.ndarray | None,
                sampling: DiffusionSampling, seed: int) -> ImageOutput:
        """Images conditioned on ``latents`` (n, dim); with the low-level branch, started from
        the blurry images of ``low_level_latents`` (n, dim), or of the condition if None."""
        scaled = self.scaler(np.asarray(latents), "latents to generate from")  # (n, dim)
        size, patch = self.options.image_size, self.options.patch_size
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((len(scaled), 3 * patch**2, size // patch, size // patch),
                            generator=generator)  # (n, 3 p^2, S / p, S / p)
        if self.prior is not None:
            scaled = self.prior.sample(scaled, sampling.prior_steps, generator)  # (n, dim)
        low_level_scaled = scaled if low_level_latents is None else \
            self.scaler(np.asarray(low_level_latents), "latents of the low-level branch")
        init = None
        if self.low_level is not None:
            init = patchify(blurry_images(self.low_level, low_level_scaled,
                                          self.options.low_level_size, size), patch)
        ddim = DDIMScheduler.from_config(self.scheduler.config)
        ddim.set_timesteps(sampling.steps)
        conditions = self.encoder(torch.from_numpy(scaled))  # (n, E)
        images = []
        for start in range(0, len(scaled), sampling.batch_size):
            rows = slice(start, start + sampling.batch_size)
            condition = conditions[rows]
            images.append(ddim_sample(
                self.unet, ddim, condition, self.encoder.unconditional(len(condition)),
                noise[rows], sampling.guidance_scale,
                None if init is None else init[rows], sampling.init_strength))
        logger.info("generated %d images (%d DDIM steps)", len(scaled), sampling.steps)
        if not images:
            return ImageOutput(np.zeros((0, size, size, 3), np.uint8))
        return ImageOutput(to_uint8(unpatchify(torch.cat(images), patch)))
