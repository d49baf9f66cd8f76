"""Steps that rename channels or change their types (wildcards allowed), for any study.

Put them first: ``pick`` then keeps or drops channels by their new types, so auxiliary
channels a reader typed EEG (``EXG*``, ``EMG``, a reference ``E``) never reach the montage
check. A rule that matches no channel of a recording is an error unless ``on_missing``
says otherwise (a channel some recordings lack).
"""

from __future__ import annotations

import logging
from typing import Literal

from pipeline.errors import DataError
from pipeline.preprocess.channel_maps import RenameRules, TypeRules, match_renames, match_types
from pipeline.preprocess.step import Data, Kind, StepContext, register_step, writable

logger = logging.getLogger(__name__)

ANY = Kind.RAW | Kind.EPOCHS
OnMissing = Literal["raise", "warn", "ignore"]


def _report_unused(unused: list[str], what: str, on_missing: OnMissing, source: str) -> None:
    """Raise, log or ignore the rules that matched no channel of ``source``."""
    if not unused or on_missing == "ignore":
        return
    message = (f"{source}: {what} key(s) {', '.join(unused)} match no channel (set "
               "on_missing: warn or ignore where some recordings lack them)")
    if on_missing == "raise":
        raise DataError(message)
    logger.warning("%s", message)


@register_step("set_channel_types", needs=ANY)
def set_channel_types(data: Data, context: StepContext, *, types: TypeRules,
                      on_missing: OnMissing = "raise") -> Data:
    """Give channels new types: ``{EXG*: eog, EMG: emg, eeg: ecog}``.

    A key is a channel name, a pattern over names (``*``, ``?``) or a current channel type;
    a name wins over a pattern, a pattern over a type.
    """
    matched = match_types(types, data.ch_names, data.get_channel_types())
    _report_unused(matched.unused, "set_channel_types", on_missing, context.source)
    out = writable(data, context)
    if matched.mapping:
        out.set_channel_types(matched.mapping, on_unit_change="ignore", verbose=False)
    return out


@register_step("rename_channels", needs=ANY)
def rename_channels(data: Data, context: StepContext, *, names: RenameRules,
                    on_missing: OnMissing = "raise") -> Data:
    """Rename channels: ``{"EEG *-REF": "*", T3: T7}`` (``*`` in a new name: what it matched)."""
    matched = match_renames(names, data.ch_names, context.source)
    _report_unused(matched.unused, "rename_channels", on_missing, context.source)
    out = writable(data, context)
    if matched.mapping:
        out.rename_channels(matched.mapping, verbose=False)
    return out
