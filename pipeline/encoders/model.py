"""An encoder with the target standardisation it was trained in; saving and loading it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from pipeline.encoders.base import build_encoder
from pipeline.errors import DataError
from pipeline.io import read_json, require_keys, write_json
from pipeline.weights import read_weights

CONFIG_KEYS = ("encoder", "options", "signal", "rescale_predictions")  # of config.json
SIGNAL_KEYS = ("n_chans", "n_times", "sfreq", "n_outputs", "n_subjects", "chs_pos")


class ScaledEncoder(nn.Module):
    """Wrap an encoder that predicts standardised latents; ``forward`` returns target space.

    Parameters
    ----------
    encoder : nn.Module
        ``encoder(x, subject)`` -> standardised latents (B, D).
    target_mean, target_std : array, shape (D,)
        Standardisation of the target latents (training stimuli).
    target_rms : float
        Root mean square norm of the standardised training latents.
    rescale : bool
        If true, each standardised prediction is rescaled to norm ``target_rms`` before it
        is mapped back: a contrastive loss fixes only the direction of a prediction, and
        this gives it the size of a real latent.
    """

    def __init__(
        self,
        encoder: nn.Module,
        target_mean: np.ndarray,
        target_std: np.ndarray,
        target_rms: float,
        rescale: bool,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.rescale = rescale
        self.register_buffer("target_mean", torch.as_tensor(target_mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.as_tensor(target_std, dtype=torch.float32))
        self.register_buffer("target_rms", torch.tensor(float(target_rms)))

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Map epochs (B, C, T) of subjects (B,) to latents in the target space (B, D)."""
        z = self.encoder(x, subject)  # (B, D), standardised
        if self.rescale:
            z = F.normalize(z, dim=1) * self.target_rms
        return z * self.target_std + self.target_mean


def save_model(model: ScaledEncoder, config: dict[str, Any], out_dir: str | Path) -> None:
    """Write ``model.safetensors`` and ``config.json`` (all :func:`load_encoder` needs)."""
    out_dir = Path(out_dir)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    write_json(config, out_dir / "config.json")


def load_encoder(model_dir: str | Path) -> tuple[ScaledEncoder, dict[str, Any]]:
    """Rebuild a trained encoder from ``config.json`` and ``model.safetensors``.

    Parameters
    ----------
    model_dir : str or Path
        An encoder model directory (stage contract 4).

    Returns
    -------
    model : ScaledEncoder
        In eval mode; ``model(x, subject)`` gives latents in the target space.
    config : dict
        The model's ``config.json``.

    Raises
    ------
    DataError
        If a file is missing or the weights do not match the configuration.
    """
    model_dir = Path(model_dir)
    source = model_dir / "config.json"
    config = require_keys(read_json(source), CONFIG_KEYS, source)
    signal = require_keys(config["signal"], SIGNAL_KEYS, f"{source} (signal)")
    state = read_weights(model_dir / "model.safetensors", "encoder weights (safetensors)")
    try:
        dim = int(signal["n_outputs"])
        model = ScaledEncoder(
            build_encoder(config["encoder"], signal, config["options"]),
            target_mean=np.zeros(dim),
            target_std=np.ones(dim),
            target_rms=1.0,
            rescale=config["rescale_predictions"],
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"{source}: cannot build the encoder it describes ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise DataError(
            f"{model_dir / 'model.safetensors'}: weights do not match {source} ({first})"
        ) from None
    return model.eval(), config
