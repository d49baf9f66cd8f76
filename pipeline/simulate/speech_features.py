"""Acoustic features that drive the simulated responses to speech, at the recording's rate.

Two kinds, each compressed as auditory models do (power 0.3) and sampled at ``sfreq``:

- the broadband envelope: the magnitude of the analytic signal, low-passed at
  ``ENVELOPE_CUTOFF`` Hz;
- band envelopes: short-time power in ``n_bands`` frequency bands spaced evenly on a
  logarithmic axis from ``LOWEST`` to ``HIGHEST`` Hz (a coarse spectrogram).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, hilbert, sosfiltfilt, stft

ENVELOPE_CUTOFF = 20.0  # Hz
LOWEST, HIGHEST = 100.0, 7000.0  # Hz, edges of the band envelopes
WINDOW = 0.025  # seconds, short-time window of the band envelopes
COMPRESSION = 0.3


def _times(n_audio: int, audio_sfreq: int, sfreq: float) -> np.ndarray:
    """Sample times (s) at ``sfreq`` covering ``n_audio`` samples at ``audio_sfreq``."""
    return np.arange(int(np.floor(n_audio / audio_sfreq * sfreq))) / sfreq


def envelope(audio: np.ndarray, audio_sfreq: int, sfreq: float) -> np.ndarray:
    """Compressed broadband envelope.

    Parameters
    ----------
    audio : ndarray, shape (n_segments, n_audio)
    audio_sfreq : int
    sfreq : float
        The rate of the returned envelope.

    Returns
    -------
    ndarray, shape (n_segments, n_times)
    """
    magnitude = np.abs(hilbert(audio, axis=-1))
    sos = butter(4, min(ENVELOPE_CUTOFF, 0.4 * sfreq), fs=audio_sfreq, output="sos")
    smooth = np.clip(sosfiltfilt(sos, magnitude, axis=-1), 0.0, None)
    times = _times(audio.shape[-1], audio_sfreq, sfreq)
    source_times = np.arange(audio.shape[-1]) / audio_sfreq
    sampled = np.stack([np.interp(times, source_times, row) for row in smooth])
    return sampled**COMPRESSION


def band_edges(n_bands: int) -> np.ndarray:
    """Edges (Hz) of ``n_bands`` log-spaced bands. Returns (n_bands + 1,)."""
    return np.geomspace(LOWEST, HIGHEST, n_bands + 1)


def band_envelopes(audio: np.ndarray, audio_sfreq: int, sfreq: float, n_bands: int) -> np.ndarray:
    """Compressed short-time power in log-spaced frequency bands.

    Parameters
    ----------
    audio : ndarray, shape (n_segments, n_audio)
    audio_sfreq : int
        Must exceed ``2 * HIGHEST``.
    sfreq : float
        The rate of the returned envelopes.
    n_bands : int

    Returns
    -------
    ndarray, shape (n_segments, n_bands, n_times)
    """
    if audio_sfreq <= 2 * HIGHEST:
        raise ValueError(f"audio rate {audio_sfreq} Hz: expected above {2 * HIGHEST:g} Hz")
    window = int(round(WINDOW * audio_sfreq))
    hop = max(1, int(audio_sfreq // (2 * sfreq)))
    frequencies, frame_times, spectra = stft(
        audio, fs=audio_sfreq, nperseg=window, noverlap=window - hop, boundary="even",
        padded=False, axis=-1,
    )  # spectra: (n_segments, n_frequencies, n_frames)
    power = np.abs(spectra) ** 2
    edges = band_edges(n_bands)
    band = np.digitize(frequencies, edges) - 1  # (n_frequencies,), -1 or n_bands outside
    summed = np.stack([power[:, band == b].sum(axis=1) for b in range(n_bands)], axis=1)
    times = _times(audio.shape[-1], audio_sfreq, sfreq)
    sampled = np.stack([
        np.stack([np.interp(times, frame_times, row) for row in segment]) for segment in summed
    ])
    return sampled**COMPRESSION
