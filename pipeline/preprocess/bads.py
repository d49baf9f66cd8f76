"""Find bad channels: robust z-score of log channel variance, and flat channels."""

from __future__ import annotations

import numpy as np
from scipy.signal import detrend

MAD_TO_SD = 1.4826


def windowed_variance(data: np.ndarray, window: int) -> np.ndarray:
    """Return each channel's median variance over consecutive windows of ``window`` samples.

    Removing each window's linear trend keeps slow drifts out of the estimate, and the
    median over windows keeps brief artefacts (blinks, movements) out of it.

    Parameters
    ----------
    data : numpy.ndarray
        ``(n_chans, n_times)`` signals.
    window : int
        Window length in samples; shorter recordings use one window.

    Returns
    -------
    numpy.ndarray
        ``(n_chans,)`` variances.
    """
    n_chans, n_times = data.shape
    window = max(1, min(window, n_times))
    n_windows = n_times // window
    windows = data[:, : n_windows * window].reshape(n_chans, n_windows, window)
    return np.median(detrend(windows, axis=2).var(axis=2), axis=1)  # (n_chans,)


def find_bad_channels(
    variance: np.ndarray, z_threshold: float, flat_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flag channels whose variance is an outlier, and channels that are flat.

    Parameters
    ----------
    variance : numpy.ndarray
        ``(n_chans,)`` channel variances (of channels of one type).
    z_threshold : float
        A channel is noisy when the robust z-score of its log variance (median and
        scaled median absolute deviation over channels) exceeds this in absolute value.
    flat_ratio : float
        A channel is flat when its standard deviation is below this fraction of the
        median channel's.

    Returns
    -------
    noisy : numpy.ndarray
        ``(n_chans,)`` bool, outlier variance (flat channels excluded).
    flat : numpy.ndarray
        ``(n_chans,)`` bool, flat channels.
    """
    std = np.sqrt(variance)  # (n_chans,)
    flat = std <= flat_ratio * np.median(std)
    log_variance = np.log(np.maximum(variance, np.finfo(float).tiny))  # (n_chans,)
    center = np.median(log_variance)
    spread = MAD_TO_SD * np.median(np.abs(log_variance - center))
    z = (log_variance - center) / max(spread, np.finfo(float).eps)  # (n_chans,)
    return (np.abs(z) > z_threshold) & ~flat, flat
