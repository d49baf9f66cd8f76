"""Bad channels of the simulated sensors: flat (no signal, a tiny white noise) or noisy.

A noisy channel records the signal plus white noise ``NOISY_LEVEL`` times the total noise
RMS; a flat one records white noise ``FLAT_LEVEL`` times the total noise RMS only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import ParamsError

if TYPE_CHECKING:
    from pipeline.simulate.noise import NoiseModel
    from pipeline.simulate.options import NoiseConfig

FLAT_LEVEL = 0.01  # white noise of a flat channel, relative to the total noise RMS
NOISY_LEVEL = 10.0  # extra white noise of a noisy channel, relative to the total noise RMS
BAD_CHANNEL_KINDS = {"flat": (0.0, FLAT_LEVEL), "noisy": (1.0, NOISY_LEVEL)}  # (signal, noise)


def draw_bad_channels(
    rng: np.random.Generator, cfg: NoiseConfig, n_channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the bad channels (indices) and their kinds ("flat" or "noisy").

    Raises
    ------
    ParamsError
        If more than half of the channels would be bad.
    """
    if 2 * cfg.bad_channels > n_channels:
        raise ParamsError(
            f"noise.bad_channels: got {cfg.bad_channels}; expected at most half of the "
            f"{n_channels} simulated channels"
        )
    bad = rng.choice(n_channels, size=cfg.bad_channels, replace=False)
    return bad, rng.choice(list(BAD_CHANNEL_KINDS), size=cfg.bad_channels)


def apply_channel_faults(
    model: NoiseModel, data: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Make the bad channels flat or noisy.

    Parameters
    ----------
    model : NoiseModel
    data : ndarray, shape (n_channels, n_samples)
        Signal plus background, SI units.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        A new array; good channels are unchanged.
    """
    faulty = np.flatnonzero(model.fault_noise)
    result = model.signal_gain[:, None] * data
    white = rng.standard_normal((faulty.size, data.shape[1]))
    result[faulty] += model.fault_noise[faulty, None] * white
    return result
