"""Evoked responses: stimulus latents -> source time courses -> sensors.

Each evoked source has ``N_COMPONENTS`` response components. A component's amplitude is a
fixed random non-linear readout of the stimulus latent, ``tanh(w . z + b)``, and its time
course is a fixed kernel with its own latency between 50 and 300 ms (a gamma-shaped bump,
a Gaussian bump, or a damped oscillation). Readouts and kernels depend only on the study
seed, so they are the same for every subject; a subject's sensor response is its forward
gain applied to the source activity. Responses are deterministic: all trial-to-trial
variability comes from the noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.simulate.seeding import make_rng

RESPONSE_DURATION = 0.6  # seconds after onset; every kernel is zero beyond it
N_COMPONENTS = 2
LATENCY_RANGE = (0.05, 0.3)  # seconds
READOUT_SCALE = 0.6  # standard deviation of the readout weights
BIAS_SCALE = 0.5  # standard deviation of the readout biases
TAPER = 0.05  # seconds of cosine taper at the end of each kernel


def _gamma_bump(t: np.ndarray, latency: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma-shaped bump peaking at ``latency``: fast rise, slower decay."""
    shape = rng.uniform(3.0, 6.0)
    rise = rng.uniform(0.025, 0.06)
    x = np.clip(t - (latency - rise), 0.0, None) / (rise / (shape - 1.0))
    return x ** (shape - 1.0) * np.exp(-x) / ((shape - 1.0) ** (shape - 1.0) * np.exp(1.0 - shape))


def _gaussian_bump(t: np.ndarray, latency: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian bump centred on ``latency`` (at most latency / 3 wide, so it starts at zero)."""
    width = min(rng.uniform(0.015, 0.04), latency / 3.0)
    return np.exp(-0.5 * ((t - latency) / width) ** 2)


def _oscillation(t: np.ndarray, latency: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-windowed oscillation (4-20 Hz) centred on ``latency``, at most latency / 3 wide."""
    width = min(rng.uniform(0.04, 0.07), latency / 3.0)
    frequency = rng.uniform(4.0, 20.0)
    envelope = np.exp(-0.5 * ((t - latency) / width) ** 2)
    return envelope * np.cos(2 * np.pi * frequency * (t - latency))


KERNELS: tuple[Callable[[np.ndarray, float, np.random.Generator], np.ndarray], ...] = (
    _gamma_bump,
    _gaussian_bump,
    _oscillation,
)


@dataclass(frozen=True)
class ResponseModel:
    """The fixed latent -> source-activity map of a study.

    Attributes
    ----------
    weights : ndarray, shape (n_sources, N_COMPONENTS, n_latents)
    biases : ndarray, shape (n_sources, N_COMPONENTS)
    kernels : ndarray, shape (n_sources, N_COMPONENTS, n_times)
        Time course of each component from the onset, unit peak, sign included.
    latencies : ndarray, shape (n_sources, N_COMPONENTS)
        Seconds.
    sfreq : float
    """

    weights: np.ndarray
    biases: np.ndarray
    kernels: np.ndarray
    latencies: np.ndarray
    sfreq: float


def response_times(sfreq: float) -> np.ndarray:
    """Sample times (seconds from onset) of a response. Returns (n_times,)."""
    return np.arange(int(round(RESPONSE_DURATION * sfreq))) / sfreq


def make_response_model(
    seed: int, n_sources: int, n_latents: int, sfreq: float, stream: str = "responses"
) -> ResponseModel:
    """Draw the readouts and kernels of the evoked sources.

    Parameters
    ----------
    seed : int
        The study seed.
    n_sources : int
        Number of evoked sources.
    n_latents : int
        Dimension of the stimulus latents.
    sfreq : float
        Sampling rate in Hz.
    stream : str
        The random stream drawn from; models of different streams are independent.

    Returns
    -------
    ResponseModel
    """
    rng = make_rng(seed, stream)
    shape = (n_sources, N_COMPONENTS)
    weights = READOUT_SCALE * rng.standard_normal((*shape, n_latents))
    biases = BIAS_SCALE * rng.standard_normal(shape)
    latencies = rng.uniform(*LATENCY_RANGE, size=shape)
    kinds = rng.integers(len(KERNELS), size=shape)
    signs = rng.choice([-1.0, 1.0], size=shape)
    t = response_times(sfreq)
    taper = np.clip((RESPONSE_DURATION - t) / TAPER, 0.0, 1.0)
    taper = 0.5 - 0.5 * np.cos(np.pi * taper)
    kernels = np.stack(
        [
            np.stack([signs[s, k] * taper * KERNELS[kinds[s, k]](t, latencies[s, k], rng)
                      for k in range(N_COMPONENTS)])
            for s in range(n_sources)
        ]
    )  # (S, K, T)
    return ResponseModel(weights, biases, kernels, latencies, sfreq)


def source_amplitudes(model: ResponseModel, latents: np.ndarray) -> np.ndarray:
    """The readouts ``tanh(w . z + b)`` of every source component for each stimulus.

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources, n_components)
    """
    return np.tanh(
        np.einsum("skd,nd->nsk", model.weights, np.asarray(latents, float)) + model.biases
    )


def source_activity(model: ResponseModel, latents: np.ndarray) -> np.ndarray:
    """Time courses of the evoked sources for each stimulus.

    Parameters
    ----------
    model : ResponseModel
    latents : ndarray, shape (n_stimuli, n_latents)

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources, n_times)
    """
    return np.einsum("nsk,skt->nst", source_amplitudes(model, latents), model.kernels)
