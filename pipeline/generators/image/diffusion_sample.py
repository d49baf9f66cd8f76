"""DDIM sampling of the conditional pixel diffusion generator, with classifier-free guidance
and an optional start from a (noised) initial image (img2img / SDEdit)."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, UNet2DModel


@torch.no_grad()
def ddim_sample(unet: UNet2DModel, scheduler: DDIMScheduler, condition: torch.Tensor,
                null: torch.Tensor, noise: torch.Tensor, guidance_scale: float,
                init: torch.Tensor | None = None, init_strength: float = 1.0) -> torch.Tensor:
    """Denoise ``noise`` into images (deterministic DDIM, eta = 0).

    Parameters
    ----------
    unet : UNet2DModel
        The denoiser; ``class_labels`` takes the condition embedding.
    scheduler : DDIMScheduler
        With ``set_timesteps`` already called.
    condition, null : Tensor, shape (B, E)
        Condition embeddings and the null (unconditional) embedding.
    noise : Tensor, shape (B, 3, S, S)
        The starting Gaussian noise.
    guidance_scale : float
        ``pred = uncond + guidance_scale * (cond - uncond)``: 0 is unconditional, 1 the
        conditional model alone (one UNet pass per step), above 1 classifier-free guidance.
    init : Tensor, shape (B, 3, S, S), optional
        An initial image in [-1, 1]; sampling starts from it noised to ``init_strength``.
    init_strength : float
        Fraction of the DDIM steps run from ``init`` (1: pure noise, ``init`` ignored;
        0: ``init`` returned as is).

    Returns
    -------
    Tensor, shape (B, 3, S, S)
        Images in [-1, 1].
    """
    timesteps = scheduler.timesteps
    if init is None:
        sample = noise * scheduler.init_noise_sigma
    else:
        start = int(round(len(timesteps) * (1.0 - init_strength)))
        timesteps = timesteps[start:]
        if len(timesteps) == 0:
            return init.clone()
        sample = scheduler.add_noise(init, noise, timesteps[:1].repeat(len(init)))
    guided = guidance_scale != 1.0
    labels = torch.cat([condition, null]) if guided else condition  # (2B or B, E)
    for t in timesteps:
        model_input = torch.cat([sample, sample]) if guided else sample
        pred = unet(model_input, t, class_labels=labels).sample
        if guided:
            cond, uncond = pred.chunk(2)
            pred = uncond + guidance_scale * (cond - uncond)
        sample = scheduler.step(pred, t, sample, eta=0.0).prev_sample
    return sample.clamp(-1.0, 1.0)
