"""Steps on continuous recordings (and, where MNE allows, on epochs)."""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Literal

import mne
from pydantic import Field, PositiveFloat

from pipeline.errors import DataError, ParamsError
from pipeline.preprocess.bads import find_bad_channels, windowed_variance
from pipeline.preprocess.montage import HOW_TO_PLACE, lacks_positions, standard_montage
from pipeline.preprocess.step import Data, Kind, StepContext, register_step, writable

ANY = Kind.RAW | Kind.EPOCHS
EXAMPLE_NAMES = 3
CONTACT_NAME = re.compile(r"^(?P<shaft>.*\D)(?P<number>\d+)$")  # "LA10" -> "LA", 10


@register_step("pick", needs=ANY)
def pick(data: Data, context: StepContext, *,
         types: Annotated[list[str], Field(min_length=1)]) -> Data:
    """Keep the channels of the given types; bad channels are kept.

    Types are MNE's: ``eeg``, ``mag``, ``grad`` (or ``meg`` for both), ``seeg``, ``ecog``,
    ``dbs``, ``eog``, ...

    Raises
    ------
    DataError
        If the recording has none of these types (naming those it has).
    """
    present = set(data.get_channel_types())
    wanted = {"mag", "grad"} | set(types) if "meg" in types else set(types)
    if not present & wanted:
        raise DataError(
            f"{context.source}: no channel of type {', '.join(types)}; the recording has "
            f"{', '.join(sorted(present))}"
        )
    return writable(data, context).pick(types, exclude=())


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
            f"expected names such as {', '.join(montage.ch_names[:EXAMPLE_NAMES])} "
            f"({HOW_TO_PLACE})"
        )
    out = writable(data, context)
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
    out = writable(data, context)
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
def interpolate_bads(data: Data, context: StepContext, *,
                     mode: Literal["accurate", "fast"] = "accurate") -> Data:
    """Replace bad channels by an interpolation of the good ones of their type; reset bads.

    MNE's methods: spherical splines for EEG (and ECoG), field mapping for MEG (``mode``
    sets the accuracy of its Legendre expansion; "fast" is several times quicker), splines
    along the shaft for sEEG.
    """
    if not data.info["bads"]:
        return writable(data, context)
    if lacks_positions(data.info, list(range(len(data.ch_names)))):
        raise DataError(
            f"{context.source}: interpolate_bads needs channel positions and the channels "
            "have none; expected it left out of preprocess.steps (bad channels then stay "
            "marked) when preprocess.positions is none"
        )
    out = writable(data, context)
    out.interpolate_bads(reset_bads=True, mode=mode, verbose=False)
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
    return writable(data, context).notch_filter(freqs, verbose=False)


@register_step("filter", needs=Kind.RAW)
def filter_(data: mne.io.BaseRaw, context: StepContext, *,
            l_freq: PositiveFloat | None = None,
            h_freq: PositiveFloat | None = None) -> mne.io.BaseRaw:
    """Band-pass (or high-, low-pass when one edge is None) FIR filter, zero phase."""
    if l_freq is None and h_freq is None:
        raise ParamsError("got l_freq=None and h_freq=None; expected at least one band edge")
    return writable(data, context).filter(l_freq, h_freq, verbose=False)


@register_step("set_reference", needs=ANY)
def set_reference(data: Data, context: StepContext, *,
                  ref_channels: Literal["average"] | list[str] = "average") -> Data:
    """Re-reference EEG to the average of good channels, or to the listed channels."""
    return writable(data, context).set_eeg_reference(ref_channels, projection=False, verbose=False)


@register_step("resample", needs=ANY)
def resample(data: Data, context: StepContext, *, sfreq: PositiveFloat) -> Data:
    """Resample to ``sfreq`` Hz (with MNE's anti-aliasing)."""
    return writable(data, context).resample(sfreq, verbose=False)


def bipolar_pairs(names: list[str], source: str) -> list[tuple[str, str]]:
    """Pair each contact with the next one on its shaft: (LA1, LA2), (LA2, LA3), ...

    Parameters
    ----------
    names : list of str
        Contact names, each a shaft label and a contact number ("LA1", "B'12").
    source : str
        The recording, named in errors.

    Returns
    -------
    list of tuple of str
        (anode, cathode) pairs of contacts numbered n and n + 1 on the same shaft, shaft
        by shaft in order of appearance.

    Raises
    ------
    DataError
        If a name does not end with a contact number, or no two contacts are adjacent.
    """
    matches = {name: CONTACT_NAME.match(name.strip()) for name in names}
    unparsed = [name for name, match in matches.items() if match is None]
    if unparsed:
        raise DataError(
            f"{source}: channels {', '.join(unparsed[:EXAMPLE_NAMES])} do not end with a "
            "contact number; the bipolar step expects <shaft><number> names such as LA1, "
            "LA2 (pick the depth channels first)"
        )
    shafts: dict[str, dict[int, str]] = {}
    for name, match in matches.items():
        shafts.setdefault(match["shaft"], {})[int(match["number"])] = name
    pairs = [(contacts[number], contacts[number + 1])
             for contacts in shafts.values() for number in sorted(contacts)
             if number + 1 in contacts]
    if not pairs:
        raise DataError(
            f"{source}: no two adjacent contacts (n and n + 1) on a shaft among "
            f"{', '.join(names[:EXAMPLE_NAMES])}; expected names such as LA1, LA2"
        )
    return pairs


@register_step("bipolar", needs=ANY)
def bipolar(data: Data, context: StepContext, *,
            types: Annotated[list[str], Field(min_length=1)] = ["seeg"]) -> Data:  # noqa: B006
    """Re-reference depth contacts to their neighbour on the shaft (``LA1-LA2``, ``LA2-LA3``).

    Pairs come from the channel names (shaft label, then contact number). The contacts of
    ``types`` are replaced by the bipolar channels, placed midway between their contacts;
    one is bad when either contact is; a contact with no neighbour is dropped; channels of
    other types are kept.

    Raises
    ------
    DataError
        If the recording has no channel of ``types``, or their names do not parse.
    """
    contacts = [name for name, kind in zip(data.ch_names, data.get_channel_types(), strict=True)
                if kind in types]
    if not contacts:
        raise DataError(f"{context.source}: no channel of type {', '.join(types)} to re-reference")
    pairs = bipolar_pairs(contacts, context.source)
    anodes, cathodes = (list(side) for side in zip(*pairs, strict=True))
    positions = {name: data.info["chs"][data.ch_names.index(name)]["loc"][:3].copy()
                 for name in contacts}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Bipolar channels are based on bad channels")
        out = mne.set_bipolar_reference(data, anodes, cathodes, drop_refs=True,
                                        copy=not context.owns_data, verbose=False)
    for anode, cathode in pairs:
        channel = out.info["chs"][out.ch_names.index(f"{anode}-{cathode}")]
        channel["loc"][:3] = (positions[anode] + positions[cathode]) / 2.0
    unpaired = [name for name in contacts if name in out.ch_names]
    return out.drop_channels(unpaired) if unpaired else out
