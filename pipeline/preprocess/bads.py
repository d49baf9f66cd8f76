"""Find bad channels: robust z-score of log channel variance, and flat channels."""

from __future__ import annotations

import numpy as np

MAD_TO_SD = 1.4826
BLOCK_VALUES = 1 << 21  # samples detrended at once (16 MiB of float64): bounds the temporaries


def windowed_variance(data: np.ndarray, window: int) -> np.ndarray:
    """Return each channel's median variance over consecutive windows of ``window`` samples.

    Removing each window's linear trend keeps slow drifts out of the estimate, and the
    median over windows keeps brief artefacts (blinks, movements) out of it. The variance
    left by the least-squares line is ``var(y) - cov(t, y)**2 / var(t)``; channels are
    taken a few at a time, so the memory used beside ``data`` does not grow with it.

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
    ramp = np.arange(window) - (window - 1) / 2  # (window,) centred sample times
    rows = max(1, BLOCK_VALUES // (n_windows * window))
    variance = np.empty(n_chans)  # (n_chans,)
    for start in range(0, n_chans, rows):
        block = data[start : start + rows, : n_windows * window]
        windows = block.reshape(len(block), n_windows, window)  # (rows, n_windows, window)
        covariance = windows @ ramp / window  # (rows, n_windows)
        residual = windows.var(axis=2) - covariance**2 / np.mean(ramp**2)
        variance[start : start + rows] = np.median(np.maximum(residual, 0.0), axis=1)
    return variance


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
