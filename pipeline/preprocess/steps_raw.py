"""Steps on continuous recordings (and, where MNE allows, on epochs)."""

from __future__ import annotations

from typing import Annotated, Literal

import mne
from pydantic import Field, PositiveFloat

from pipeline.errors import DataError, ParamsError
from pipeline.preprocess.bads import find_bad_channels, windowed_variance
from pipeline.preprocess.montage import lacks_positions, standard_montage
from pipeline.preprocess.step import Data, Kind, StepContext, register_step

ANY = Kind.RAW | Kind.EPOCHS
EXAMPLE_NAMES = 3


@register_step("pick", needs=ANY)
def pick(data: Data, context: StepContext, *,
         types: Annotated[list[str], Field(min_length=1)]) -> Data:
    """Keep the channels of the given types (e.g. ``[eeg]``); bad channels are kept."""
    return data.copy().pick(types, exclude=())


@register_step("check_montage", needs=ANY)
def check_montage(data: Data, context: StepContext) -> Data:
    """Check every EEG channel name against the montage (case-insensitively).

    When no EEG channel of the recording has a position, the montage's are set.

    Raises
    ------
    DataError
        Naming the recording, the channels not in the montage and names it has.
    """
    montage = standard_montage(context.montage)
    known = {name.lower() for name in montage.ch_names}
    eeg = mne.pick_types(data.info, meg=False, eeg=True, exclude=())
    unknown = [data.ch_names[index] for index in eeg if data.ch_names[index].lower() not in known]
    if unknown:
        raise DataError(
            f"{context.source}: channels {', '.join(unknown)} not in montage {context.montage}; "
            f"expected names such as {', '.join(montage.ch_names[:EXAMPLE_NAMES])}"
        )
    out = data.copy()
    if len(eeg) and lacks_positions(out.info, list(eeg)):
        out.set_montage(montage, match_case=False, on_missing="ignore")
    return out


@register_step("mark_bad_channels", needs=Kind.RAW)
def mark_bad_channels(data: mne.io.BaseRaw, context: StepContext, *,
                      z_threshold: PositiveFloat = 4.0,
                      flat_ratio: PositiveFloat = 0.01,
                      window: PositiveFloat = 1.0) -> mne.io.BaseRaw:
    """Mark noisy and flat channels as bad (adds to the recording's own bad channels).

    Per channel type, a channel is noisy when the robust z-score of its log variance
    (the median over ``window``-second detrended windows, so slow drifts and brief
    artefacts do not count) exceeds ``z_threshold``, and flat when its standard deviation
    is below ``flat_ratio`` times the median channel's.
    """
    out = data.copy()
    bads = list(out.info["bads"])
    types = out.get_channel_types()
    data_channels = mne.pick_types(out.info, meg=True, eeg=True, seeg=True, ecog=True,
                                   dbs=True, exclude=())
    for ch_type in sorted({types[index] for index in data_channels}):
        picks = [index for index, name in enumerate(types) if name == ch_type]
        variance = windowed_variance(out.get_data(picks=picks),  # (n_picks, n_times)
                                     round(window * out.info["sfreq"]))
        noisy, flat = find_bad_channels(variance, z_threshold, flat_ratio)
        bads += [out.ch_names[index] for index, bad in zip(picks, noisy | flat, strict=True)
                 if bad and out.ch_names[index] not in bads]
    out.info["bads"] = bads
    return out


@register_step("interpolate_bads", needs=ANY)
def interpolate_bads(data: Data, context: StepContext) -> Data:
    """Replace bad channels by a spherical-spline interpolation of the others; reset bads."""
    out = data.copy()
    if out.info["bads"]:
        out.interpolate_bads(reset_bads=True, verbose=False)
    return out


@register_step("notch", needs=Kind.RAW)
def notch(data: mne.io.BaseRaw, context: StepContext, *,
          freqs: Annotated[list[PositiveFloat], Field(min_length=1)]) -> mne.io.BaseRaw:
    """Remove line noise at ``freqs`` (Hz) with notch filters."""
    nyquist = data.info["sfreq"] / 2
    too_high = [freq for freq in freqs if freq >= nyquist]
    if too_high:
        raise ParamsError(
            f"freqs {too_high} at or above the Nyquist frequency ({nyquist:g} Hz) of "
            f"{context.source}; expected frequencies below it"
        )
    return data.copy().notch_filter(freqs, verbose=False)


@register_step("filter", needs=Kind.RAW)
def filter_(data: mne.io.BaseRaw, context: StepContext, *,
            l_freq: PositiveFloat | None = None,
            h_freq: PositiveFloat | None = None) -> mne.io.BaseRaw:
    """Band-pass (or high-, low-pass when one edge is None) FIR filter, zero phase."""
    if l_freq is None and h_freq is None:
        raise ParamsError("got l_freq=None and h_freq=None; expected at least one band edge")
    return data.copy().filter(l_freq, h_freq, verbose=False)


@register_step("set_reference", needs=ANY)
def set_reference(data: Data, context: StepContext, *,
                  ref_channels: Literal["average"] | list[str] = "average") -> Data:
    """Re-reference EEG to the average of good channels, or to the listed channels."""
    return data.copy().set_eeg_reference(ref_channels, projection=False, verbose=False)


@register_step("resample", needs=ANY)
def resample(data: Data, context: StepContext, *, sfreq: PositiveFloat) -> Data:
    """Resample to ``sfreq`` Hz (with MNE's anti-aliasing)."""
    return data.copy().resample(sfreq, verbose=False)
