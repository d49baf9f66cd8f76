"""Steps that make epochs from a recording, and steps on epochs."""

from __future__ import annotations

import mne
import numpy as np
from pydantic import PositiveFloat

from pipeline.errors import DataError, ParamsError
from pipeline.preprocess.step import Kind, StepContext, register_step, writable

EVENT_CODE = 1


@register_step("epoch", needs=Kind.RAW, gives=Kind.EPOCHS)
def epoch(data: mne.io.BaseRaw, context: StepContext, *,
          tmin: float, tmax: float) -> mne.BaseEpochs:
    """Cut one epoch from ``tmin`` to ``tmax`` seconds around each stimulus onset.

    Events are the context's trials (the annotations naming a stimulus id); each epoch
    keeps its ``stimulus_id`` and ``onset`` as metadata. No baseline is applied and no
    epoch is rejected; only epochs whose window runs past the recording are left out.
    """
    if tmin >= tmax:
        raise ParamsError(f"got tmin={tmin:g} and tmax={tmax:g}; expected tmin < tmax")
    sfreq = data.info["sfreq"]
    samples = data.first_samp + np.round(context.events["onset"].to_numpy() * sfreq)
    events = np.column_stack([  # (n_events, 3)
        samples.astype(np.int64),
        np.zeros(len(samples), dtype=np.int64),
        np.full(len(samples), EVENT_CODE, dtype=np.int64),
    ])
    epochs = mne.Epochs(
        data, events, event_id={"stimulus": EVENT_CODE}, tmin=tmin, tmax=tmax,
        baseline=None, reject=None, flat=None, reject_by_annotation=False, preload=True,
        metadata=context.events.reset_index(drop=True), verbose=False,
    )
    if len(epochs) == 0:
        raise DataError(f"{context.source}: no epoch left: the window {tmin:g} to {tmax:g} s "
                        f"of each of its {len(events)} events runs past the recording "
                        f"({data.times[-1]:.1f} s); expected onsets inside it")
    return epochs


@register_step("baseline", needs=Kind.EPOCHS)
def baseline(data: mne.BaseEpochs, context: StepContext, *,
             tmin: float | None = None, tmax: float | None = 0.0) -> mne.BaseEpochs:
    """Subtract each epoch's and channel's mean over ``tmin``..``tmax`` (None: epoch edge)."""
    return writable(data, context).apply_baseline((tmin, tmax), verbose=False)


def robust_scale_array(data: np.ndarray, clamp: float) -> np.ndarray:
    """Centre each channel on its median, divide by its IQR, clip to ``[-clamp, clamp]``.

    Parameters
    ----------
    data : numpy.ndarray
        ``(n_epochs, n_chans, n_times)``; statistics pool all epochs and times of a channel.
    clamp : float
        Bound of the scaled values.

    Returns
    -------
    numpy.ndarray
        ``(n_epochs, n_chans, n_times)`` scaled values; a channel with zero IQR is only centred.
    """
    pooled = data.transpose(1, 0, 2).reshape(data.shape[1], -1)  # (n_chans, n_epochs * n_times)
    low, median, high = np.percentile(pooled, [25, 50, 75], axis=1)  # (n_chans,) each
    iqr = np.where(high > low, high - low, 1.0)  # (n_chans,)
    scaled = (data - median[:, None]) / iqr[:, None]  # (n_epochs, n_chans, n_times)
    return np.clip(scaled, -clamp, clamp)


@register_step("robust_scale", needs=Kind.EPOCHS)
def robust_scale(data: mne.BaseEpochs, context: StepContext, *,
                 clamp: PositiveFloat = 20.0) -> mne.BaseEpochs:
    """Per channel, subtract the median and divide by the IQR over all epochs, then clamp.

    As in Defossez et al. (2023), "Decoding speech perception from non-invasive brain
    recordings": a robust scaler fitted per recording, values clamped to ``[-clamp, clamp]``.
    """
    return writable(data, context).apply_function(
        robust_scale_array, picks="data", channel_wise=False, clamp=clamp
    )
