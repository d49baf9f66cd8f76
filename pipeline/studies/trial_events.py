"""Trials of a recording: its annotations and stim-channel events, renamed to stimulus ids.

Keys of the events mapping that are strings match annotation descriptions; integer keys
match event codes of a stim channel (``mne.find_events``). Without a mapping every
annotation (but MNE's ``BAD``/``EDGE`` spans) is a trial, named by its description.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import DataError
from pipeline.read_errors import reading

if TYPE_CHECKING:
    import mne

NOT_TRIALS = ("BAD", "EDGE")  # prefixes of MNE's bad-span and boundary annotations
DATATYPES = {  # BIDS datatype -> the channel types that make it, in order of precedence
    "meg": ("mag", "grad", "ref_meg"),
    "ieeg": ("seeg", "ecog", "dbs"),
    "eeg": ("eeg",),
}


def datatype_of(raw: mne.io.BaseRaw, source: Path) -> str:
    """Return the BIDS datatype of ``raw``: ``meg``, ``ieeg`` or ``eeg`` by its channel types.

    Raises
    ------
    DataError
        If the recording has no MEG, intracranial or EEG channel.
    """
    present = set(raw.get_channel_types())
    for datatype, types in DATATYPES.items():
        if present & set(types):
            return datatype
    raise DataError(
        f"{source}: channel types {', '.join(sorted(present))}; expected MEG, iEEG or EEG "
        "channels (set study.options.rawfiles.channel_types to retype them, e.g. {misc: eeg})"
    )


def _stim_annotations(raw: mne.io.BaseRaw, codes: Mapping[int, str], stim_channel: str | None,
                      source: Path) -> mne.Annotations:
    """Return one annotation per stim-channel event whose code is in ``codes`` (all if empty)."""
    import mne

    if stim_channel is not None and stim_channel not in raw.ch_names:
        stim = [raw.ch_names[index] for index in mne.pick_types(raw.info, meg=False, stim=True)]
        raise DataError(f"{source}: no channel {stim_channel!r} (stim_channel); expected one "
                        f"of its stim channels: {', '.join(stim) or 'none'}")
    if stim_channel is None and not len(mne.pick_types(raw.info, meg=False, stim=True)):
        raise DataError(f"{source}: no stim channel; expected one for the integer event codes "
                        "of the events mapping (name it with stim_channel)")
    with reading(source):
        events = mne.find_events(raw, stim_channel=stim_channel, shortest_event=1,
                                 verbose=False)  # (n_events, 3)
    names = dict(codes) or {int(code): str(code) for code in set(events[:, 2])}
    if not set(names) & set(events[:, 2]):
        return mne.Annotations([], [], [], orig_time=raw.annotations.orig_time)
    orig_time = raw.annotations.orig_time  # onsets from it, else from the first sample
    return mne.annotations_from_events(
        events, raw.info["sfreq"], event_desc=names,
        first_samp=raw.first_samp if orig_time is None else 0, orig_time=orig_time,
        verbose=False,
    )


def stimulus_annotations(raw: mne.io.BaseRaw, events: Mapping[str | int, str],
                         stim_channel: str | None, source: Path) -> mne.Annotations:
    """Return the annotations of ``raw`` renamed to stimulus ids, plus stim-channel events.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.
    events : mapping
        Annotation description (str) or stim-channel event code (int) -> stimulus id.
        Annotations not in it keep their description (they are not trials unless it is
        a stimulus id).
    stim_channel : str or None
        The stim channel; None lets MNE find one. It is read when ``events`` has integer
        keys, when it is named, or when the recording has no annotation and ``events``
        is empty.
    source : Path
        The file, named in errors.

    Returns
    -------
    mne.Annotations
        New annotations (``raw`` is not modified).
    """
    import mne

    descriptions = {key: value for key, value in events.items() if isinstance(key, str)}
    codes = {key: value for key, value in events.items() if isinstance(key, int)}
    old = raw.annotations
    out = mne.Annotations(
        onset=old.onset, duration=old.duration,
        description=[descriptions.get(text, text) for text in old.description],
        orig_time=old.orig_time, ch_names=old.ch_names,
    )
    has_stim = len(mne.pick_types(raw.info, meg=False, stim=True)) > 0
    if codes or stim_channel is not None or (not events and not len(old) and has_stim):
        out = out + _stim_annotations(raw, codes, stim_channel, source)
    return out


def trial_ids(annotations: mne.Annotations, events: Mapping[str | int, str]) -> list[str]:
    """Return the descriptions of the annotations that are trials, in order.

    With a mapping, trials are the annotations named after one of its stimulus ids;
    without, every annotation but MNE's ``BAD``/``EDGE`` spans.
    """
    if events:
        stimulus_ids = set(events.values())
        return [str(text) for text in annotations.description if text in stimulus_ids]
    return [str(text) for text in annotations.description
            if not str(text).upper().startswith(NOT_TRIALS)]
