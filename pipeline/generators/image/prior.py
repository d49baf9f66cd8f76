"""A diffusion prior (MindEye, unCLIP): a predicted latent -> a plausible true latent.

Latents predicted from brain data are noisy and lie off the manifold of the stimuli's target
latents. The prior is a small residual MLP over the scaled latent space (see
:mod:`pipeline.generators.latents`), with a timestep embedding, that generates by diffusion
(DDPM training, deterministic DDIM sampling, predicting the clean latent) a scaled training
latent given a corrupted copy of it: the condition is the unit latent with Gaussian noise
(:func:`~pipeline.generators.latents.noisy_unit`), the target the clean one. Pairs are drawn
from the training stimuli only; the validation loss selects the kept weights.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn

from pipeline.generators.image.diffusion_train import VAL_DRAWS
from pipeline.generators.image.step_training import (
    Batch,
    StepBatches,
    StepRun,
    fit_steps,
    run_checkpoints,
)
from pipeline.generators.latents import LatentScaler, noisy_unit, unit_rows

logger = logging.getLogger(__name__)


class PriorNet(nn.Module):
    """Denoiser of the prior: (noisy latent, timestep, condition latent) -> clean latent.

    Parameters
    ----------
    dim : int
        Dimension of the (scaled) latents.
    width : int
        Hidden width of the residual MLP.
    depth : int
        Residual blocks (pre-LayerNorm, two linear layers, SiLU).
    """

    def __init__(self, dim: int, width: int, depth: int) -> None:
        super().__init__()
        self.width = width
        self.inp = nn.Linear(2 * dim, width)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(),
                          nn.Linear(width, width)) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))

    def forward(self, sample: torch.Tensor, timesteps: torch.Tensor, condition: torch.Tensor,
                ) -> torch.Tensor:
        """``sample`` (B, dim) at ``timesteps`` (B,), ``condition`` (B, dim) -> x0 (B, dim)."""
        embedding = get_timestep_embedding(timesteps, self.width, flip_sin_to_cos=True,
                                           downscale_freq_shift=0)  # (B, width)
        hidden = self.inp(torch.cat([sample, condition], dim=1)) + self.time(embedding)
        for block in self.blocks:
            hidden = hidden + block(hidden)  # (B, width)
        return self.out(hidden)


@dataclass(frozen=True)
class PriorSchedule:
    """How to train the prior: steps, batch, learning rate, condition noise, evaluations."""

    steps: int
    batch_size: int
    lr: float
    condition_noise: float
    eval_every: int


def prior_scheduler(num_train_timesteps: int) -> DDPMScheduler:
    """The prior's noise schedule (cosine, x0 prediction, no clipping: latents are unbounded)."""
    return DDPMScheduler(num_train_timesteps=num_train_timesteps,
                         beta_schedule="squaredcos_cap_v2", prediction_type="sample",
                         clip_sample=False, timestep_spacing="trailing")


class PriorRun(StepRun):
    """The Lightning run of a prior's denoiser (see :meth:`DiffusionPrior.fit`).

    The validation set: the validation latents ``VAL_DRAWS`` times each, with fixed
    corruption, timesteps and noise drawn with ``seed + 1``.
    """

    def __init__(self, prior: DiffusionPrior, train: torch.Tensor, val: torch.Tensor,
                 schedule: PriorSchedule, seed: int) -> None:
        noise = schedule.condition_noise
        batches = StepBatches(partial(self._batch, prior, train, schedule), schedule.steps,
                              schedule.eval_every, seed)
        val_set = prior.draw(val.repeat(VAL_DRAWS, 1), noise,  # (n * draws, dim)
                             torch.Generator().manual_seed(seed + 1))
        super().__init__("prior", {"net": prior.net}, batches, val_set, schedule.lr)
        self.prior, self.schedule = prior, schedule

    @staticmethod
    def _batch(prior: DiffusionPrior, train: torch.Tensor, schedule: PriorSchedule,
               generator: torch.Generator) -> Batch:
        """Training latents drawn with replacement (B, dim), with their corruption and noise."""
        rows = torch.randint(0, len(train), (schedule.batch_size,), generator=generator)
        return prior.draw(train[rows], schedule.condition_noise, generator)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "schedule": asdict(self.schedule),
                "scheduler": dict(self.prior.scheduler.config), "scale": self.prior.scaler.scale,
                "mean": self.prior.scaler.mean.tolist()}

    def training_loss(self, batch: Batch) -> torch.Tensor:
        return self.prior.loss(batch)

    def validation_loss(self, val: Batch) -> float:
        return float(self.prior.loss(val))


class DiffusionPrior:
    """The fitted prior: its denoiser, noise schedule, latent statistics and history."""

    def __init__(self, net: PriorNet, scheduler: DDPMScheduler, scaler: LatentScaler,
                 history: list[dict[str, float]]) -> None:
        self.net, self.scheduler, self.scaler, self.history = net.eval(), scheduler, scaler, history

    @classmethod
    def fit(cls, net: PriorNet, scheduler: DDPMScheduler, scaler: LatentScaler,
            train_unit: np.ndarray, val_unit: np.ndarray, schedule: PriorSchedule, seed: int,
            checkpoint_dir: str | Path | None = None) -> DiffusionPrior:
        """Train ``net`` on training latents; keep the weights with the lowest val loss.

        Each step draws a batch of training latents (with replacement), corrupts a copy
        (noise norm uniform in ``[0, condition_noise]``), noises the clean scaled latent to a
        random timestep and regresses it (mean squared error) given the corrupted copy.

        Parameters
        ----------
        train_unit, val_unit : ndarray, shape (n, dim)
            L2-normalised training and validation latents.
        checkpoint_dir : str or Path, optional
            Keeps the run's checkpoints: a run killed part way resumes from its last
            evaluation when started again with the same settings, code, data and weights.
        """
        prior = cls(net, scheduler, scaler, [])
        train, val = torch.from_numpy(train_unit), torch.from_numpy(val_unit)  # (n, dim)
        run = PriorRun(prior, train, val, schedule, seed)
        prior.history = fit_steps(run, run_checkpoints(checkpoint_dir, run, [train, val]))
        return prior

    def scaled(self, unit: torch.Tensor) -> torch.Tensor:
        """Unit latents (B, dim) -> scaled latents (B, dim)."""
        return (unit - torch.from_numpy(self.scaler.mean)) / self.scaler.scale

    def draw(self, unit: torch.Tensor, condition_noise: float, generator: torch.Generator,
             ) -> Batch:
        """Clean latents ``unit`` (B, dim), corrupted copies (B, dim), timesteps (B,) and
        noise (B, dim) for the loss."""
        condition = noisy_unit(unit, condition_noise, generator)
        timesteps = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(unit),),
                                  generator=generator)
        noise = torch.randn(unit.shape, generator=generator)
        return unit, condition, timesteps, noise

    def loss(self, batch: Batch) -> torch.Tensor:
        """x0 regression loss of clean latents given their corrupted copies (see :meth:`draw`)."""
        unit, condition, timesteps, noise = batch
        clean = self.scaled(unit)  # (B, dim)
        noisy = self.scheduler.add_noise(clean, noise, timesteps)
        return F.mse_loss(self.net(noisy, timesteps, self.scaled(condition)), clean)

    @torch.no_grad()
    def sample(self, scaled: np.ndarray, steps: int, generator: torch.Generator) -> np.ndarray:
        """Map scaled latents (n, dim) to prior samples, renormalised onto the unit sphere
        and scaled again (n, dim), by deterministic DDIM from Gaussian noise."""
        condition = torch.from_numpy(scaled)  # (n, dim)
        sample = torch.randn(condition.shape, generator=generator)
        ddim = DDIMScheduler.from_config(self.scheduler.config)
        ddim.set_timesteps(steps)
        sample = sample * ddim.init_noise_sigma
        for t in ddim.timesteps:
            pred = self.net(sample, t.expand(len(sample)), condition)
            sample = ddim.step(pred, t, sample, eta=0.0).prev_sample
        unit = unit_rows(sample.numpy() * self.scaler.scale + self.scaler.mean)
        return self.scaler.transform(unit)

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        """The denoiser's weights, keyed ``<prefix>.<name>``, for a safetensors file."""
        return {f"{prefix}.{k}": v.contiguous() for k, v in self.net.state_dict().items()}
