"""Audio waveforms shared by the speech simulator and the speech targets."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly


def resample(waveform: np.ndarray, source: int, target: int) -> np.ndarray:
    """Polyphase resampling of a waveform from ``source`` to ``target`` Hz.

    Parameters
    ----------
    waveform : ndarray, shape (n_samples,)
    source, target : int
        Sampling rates in Hz.

    Returns
    -------
    ndarray, shape (round(n_samples * target / source),)
        float32; the input unchanged (as float32) when the rates are equal.
    """
    if source == target:
        return waveform.astype(np.float32)
    factor = gcd(source, target)
    return resample_poly(waveform, target // factor, source // factor).astype(np.float32)
