"""Training loop of the conditional pixel diffusion generator, with selection on validation."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from torch import nn

from pipeline.generators.image.diffusion_model import ConditionEncoder
from pipeline.generators.latents import noisy_unit

logger = logging.getLogger(__name__)

VAL_DRAWS = 4  # (timestep, noise) draws per validation image in the validation loss
WARMUP = 50  # steps of linear learning-rate warm-up


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


@torch.no_grad()
def validation_loss(unet: UNet2DModel, conditioner: Conditioner, scheduler: DDPMScheduler,
                    val: Split, batch_size: int, seed: int) -> float:
    """Diffusion loss on the validation images with fixed timesteps and noise (comparable
    between evaluations), conditioned on their clean latents."""
    generator = torch.Generator().manual_seed(seed)
    pixels = val.pixels.repeat(VAL_DRAWS, 1, 1, 1)  # (n * draws, 3, S, S)
    unit = val.unit.repeat(VAL_DRAWS, 1)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(pixels),),
                              generator=generator)
    noise = torch.randn(pixels.shape, generator=generator)
    total = 0.0
    for start in range(0, len(pixels), batch_size):
        rows = slice(start, start + batch_size)
        loss = _loss(unet, scheduler, pixels[rows], noise[rows], timesteps[rows],
                     conditioner(unit[rows]))
        total += float(loss) * len(pixels[rows])
    return total / len(pixels)


def lr_factor(step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of the peak learning rate."""
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / max(steps - WARMUP, 1)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


class BestOnValidation:
    """The history of periodic validation losses of a training loop, and the weights at the
    lowest one.

    Parameters
    ----------
    name : str
        What is trained (it starts the log lines).
    modules : sequence of nn.Module
        The modules whose weights are kept and restored.
    steps, eval_every : int
        Training steps, and steps between validation losses (the last step is always one).
    """

    def __init__(self, name: str, modules: Sequence[nn.Module], steps: int,
                 eval_every: int) -> None:
        self.name, self.modules, self.steps, self.eval_every = name, modules, steps, eval_every
        self.history: list[dict[str, float]] = []  # step, train_loss (mean since last), val_loss
        self._running: list[float] = []
        self._best: tuple[float, list[dict] | None] = (math.inf, None)

    def after_step(self, step: int, train_loss: float, val_loss: Callable[[], float]) -> None:
        """Record step ``step``'s training loss; when due, switch the modules to eval mode,
        compute ``val_loss()``, log it and keep the weights if it is the lowest so far."""
        self._running.append(train_loss)
        if (step + 1) % self.eval_every != 0 and step + 1 != self.steps:
            return
        for module in self.modules:
            module.eval()
        loss = val_loss()
        self.history.append({"step": step + 1,
                             "train_loss": sum(self._running) / len(self._running),
                             "val_loss": loss})
        self._running = []
        logger.info("%s step %d/%d: train loss %.4f, val loss %.4f", self.name, step + 1,
                    self.steps, self.history[-1]["train_loss"], loss)
        if loss < self._best[0]:
            self._best = (loss, copy.deepcopy([module.state_dict() for module in self.modules]))

    def restore_best(self) -> None:
        """Load the kept weights into the modules, in eval mode."""
        for module, state in zip(self.modules, self._best[1], strict=True):
            module.load_state_dict(state)
            module.eval()
        logger.info("%s: kept the weights with the lowest val loss (%.4f)", self.name,
                    self._best[0])


def train_loop(unet: UNet2DModel, conditioner: Conditioner, scheduler: DDPMScheduler,
               train_data: Split, val: Split, schedule: Schedule, seed: int,
               ) -> list[dict[str, float]]:
    """Train ``unet`` and the condition encoder in place; restore the best state on validation.

    Each step draws a batch of training images (with replacement), adds train-time noise to
    their latents, drops the condition with probability ``cond_dropout`` (classifier-free
    guidance) and regresses the noise at a random timestep. Every ``eval_every`` steps the
    validation loss is computed; the weights with the lowest one are kept.

    Returns
    -------
    list of dict
        One row per evaluation: step, train_loss (mean since the last one), val_loss.
    """
    generator = torch.Generator().manual_seed(seed)
    encoder = conditioner.encoder
    params = [*unet.parameters(), *encoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=0.0)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, schedule.steps))
    n = len(train_data.pixels)
    tracker = BestOnValidation("diffusion", (unet, encoder), schedule.steps, schedule.eval_every)
    for step in range(schedule.steps):
        unet.train(), encoder.train()
        rows = torch.randint(0, n, (schedule.batch_size,), generator=generator)
        unit = noisy_unit(train_data.unit[rows], schedule.condition_noise, generator)
        drop = torch.rand(len(rows), generator=generator) < schedule.cond_dropout
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(rows),),
                                  generator=generator)
        noise = torch.randn(train_data.pixels[rows].shape, generator=generator)
        loss = _loss(unet, scheduler, train_data.pixels[rows], noise, timesteps,
                     conditioner(unit, drop))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        lr_schedule.step()
        tracker.after_step(step, loss.item(), lambda: validation_loss(
            unet, conditioner, scheduler, val, 2 * schedule.batch_size, seed + 1))
    tracker.restore_best()
    return tracker.history
