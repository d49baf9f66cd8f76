"""What the writers' tests share: test signals, and how far a reader's samples are from them."""

from __future__ import annotations

import mne
import numpy as np

MAX_RELATIVE_ERROR = 1e-3  # of the signal range


def sine_in_noise(n_chans: int, n_times: int, sfreq: float, scale: float) -> np.ndarray:
    """Noise plus a 10 Hz sine, (n_chans, n_times), of amplitude about ``scale`` (seed 0)."""
    rng = np.random.default_rng(0)
    times = np.arange(n_times) / sfreq
    return scale * (rng.standard_normal((n_chans, n_times)) + np.sin(2 * np.pi * 10 * times))



def relative_error(raw: mne.io.BaseRaw, picks: list[str], expected: np.ndarray) -> float:
    """The largest difference between ``raw``'s ``picks`` and ``expected``, over its range."""
    read = raw.get_data(picks=picks)
    return float(np.max(np.abs(read - expected)) / np.ptp(expected))
