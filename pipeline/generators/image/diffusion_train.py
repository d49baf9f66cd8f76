"""Training of the conditional pixel diffusion generator: a Lightning run selected on val."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel

from pipeline.generators.image.diffusion_model import ConditionEncoder
from pipeline.generators.image.step_training import (
    Batch,
    StepBatches,
    StepRun,
    fit_steps,
    run_checkpoints,
)
from pipeline.generators.latents import noisy_unit

logger = logging.getLogger(__name__)

VAL_DRAWS = 4  # (timestep, noise) draws per validation image in the validation loss


@dataclass(frozen=True)
class Split:
    """Training or validation data: images (n, 3, S, S) in [-1, 1], unit latents (n, dim)."""

    pixels: torch.Tensor
    unit: torch.Tensor


@dataclass(frozen=True)
class Schedule:
    """How to train: steps, batch, learning rate, regularisation of the condition."""

    steps: int
    batch_size: int
    lr: float
    cond_dropout: float
    condition_noise: float
    eval_every: int


class Conditioner:
    """Unit latents -> scaled latents -> condition embeddings (the scaler's statistics)."""

    def __init__(self, encoder: ConditionEncoder, mean: torch.Tensor, scale: float) -> None:
        self.encoder, self.mean, self.scale = encoder, mean, scale

    def __call__(self, unit: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder((unit - self.mean) / self.scale, drop)


def _loss(unet: UNet2DModel, scheduler: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor,
          timesteps: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the UNet's prediction (epsilon, v or x0) at noisy ``x0``."""
    noisy = scheduler.add_noise(x0, noise, timesteps)  # (B, 3, S, S)
    pred = unet(noisy, timesteps, class_labels=condition).sample
    targets = {"epsilon": lambda: noise, "sample": lambda: x0,
               "v_prediction": lambda: scheduler.get_velocity(x0, noise, timesteps)}
    target = targets[scheduler.config.prediction_type]()
    return F.mse_loss(pred, target)


def train_batch(data: Split, schedule: Schedule, num_train_timesteps: int,
                generator: torch.Generator) -> Batch:
    """Draw one training batch: images (B, 3 p^2, S / p, S / p) of rows drawn with
    replacement, their latents with train-time noise (B, dim), which conditions to drop (B,),
    timesteps (B,) and noise (B, 3 p^2, S / p, S / p)."""
    rows = torch.randint(0, len(data.pixels), (schedule.batch_size,), generator=generator)
    unit = noisy_unit(data.unit[rows], schedule.condition_noise, generator)
    drop = torch.rand(len(rows), generator=generator) < schedule.cond_dropout
    timesteps = torch.randint(0, num_train_timesteps, (len(rows),), generator=generator)
    noise = torch.randn(data.pixels[rows].shape, generator=generator)
    return data.pixels[rows], unit, drop, timesteps, noise


def validation_set(val: Split, num_train_timesteps: int, seed: int) -> Batch:
    """The validation images and clean latents, ``VAL_DRAWS`` times each, with fixed
    timesteps and noise (so that evaluations are comparable)."""
    generator = torch.Generator().manual_seed(seed)
    pixels = val.pixels.repeat(VAL_DRAWS, 1, 1, 1)  # (n * draws, 3 p^2, S / p, S / p)
    unit = val.unit.repeat(VAL_DRAWS, 1)  # (n * draws, dim)
    timesteps = torch.randint(0, num_train_timesteps, (len(pixels),), generator=generator)
    noise = torch.randn(pixels.shape, generator=generator)
    return pixels, unit, timesteps, noise


class DiffusionRun(StepRun):
    """The Lightning run of the UNet and the condition encoder (see :func:`train_loop`)."""

    def __init__(self, unet: UNet2DModel, conditioner: Conditioner, scheduler: DDPMScheduler,
                 train_data: Split, val: Split, schedule: Schedule, seed: int) -> None:
        timesteps = scheduler.config.num_train_timesteps
        batches = StepBatches(partial(train_batch, train_data, schedule, timesteps),
                              schedule.steps, schedule.eval_every, seed)
        super().__init__("diffusion", {"unet": unet, "encoder": conditioner.encoder}, batches,
                         validation_set(val, timesteps, seed + 1), schedule.lr)
        self.conditioner, self.scheduler, self.schedule = conditioner, scheduler, schedule
        self.val_batch_size = 2 * schedule.batch_size

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "schedule": asdict(self.schedule),
                "scheduler": dict(self.scheduler.config), "scale": self.conditioner.scale}

    def training_loss(self, batch: Batch) -> torch.Tensor:
        pixels, unit, drop, timesteps, noise = batch
        return _loss(self.networks["unet"], self.scheduler, pixels, noise, timesteps,
                     self.conditioner(unit, drop))

    def validation_loss(self, val: Batch) -> float:
        """Diffusion loss on the validation images, conditioned on their clean latents."""
        pixels, unit, timesteps, noise = val
        unet, total = self.networks["unet"], 0.0
        for start in range(0, len(pixels), self.val_batch_size):
            rows = slice(start, start + self.val_batch_size)
            loss = _loss(unet, self.scheduler, pixels[rows], noise[rows], timesteps[rows],
                         self.conditioner(unit[rows]))
            total += float(loss) * len(pixels[rows])
        return total / len(pixels)


def train_loop(unet: UNet2DModel, conditioner: Conditioner, scheduler: DDPMScheduler,
               train_data: Split, val: Split, schedule: Schedule, seed: int,
               checkpoint_dir: str | Path | None = None) -> list[dict[str, float]]:
    """Train ``unet`` and the condition encoder in place; restore the best state on validation.

    Each step draws a batch of training images (with replacement), adds train-time noise to
    their latents, drops the condition with probability ``cond_dropout`` (classifier-free
    guidance) and regresses the noise at a random timestep. Every ``eval_every`` steps the
    validation loss is computed; the weights with the lowest one are kept.

    Parameters
    ----------
    checkpoint_dir : str or Path, optional
        Keeps the run's checkpoints: a run killed part way resumes from its last evaluation
        when started again with the same settings, code, data and initial weights.

    Returns
    -------
    list of dict
        One row per evaluation: step, train_loss (mean since the last one), val_loss.
    """
    run = DiffusionRun(unet, conditioner, scheduler, train_data, val, schedule, seed)
    data = [train_data.pixels, train_data.unit, val.pixels, val.unit, conditioner.mean]
    return fit_steps(run, run_checkpoints(checkpoint_dir, run, data))
