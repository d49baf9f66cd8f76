"""A study's channel rules: types and renames for every file, and for one file.

Rules of the study (``study.options.rawfiles.channel_types``) apply to every file, those of
a file entry to that file, winning key by key. Types are set first, on the names as the
file has them; renames follow. A file's own rule that matches none of its channels is an
error; a study rule only if it matches no channel of any file (a channel some files lack).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import DataError
from pipeline.preprocess.channel_maps import match_renames, match_types

if TYPE_CHECKING:
    import mne


@dataclass(frozen=True)
class ChannelRules:
    """The channel types and renames of one file: the study's, then the file's own.

    Attributes
    ----------
    types, renames : dict of str to str
        Key (name, pattern, or current type for ``types``) -> new type or name.
    own_keys : frozenset of str
        The keys given in the file's entry (they must match a channel of it).
    """

    types: dict[str, str]
    renames: dict[str, str]
    own_keys: frozenset[str]

    @classmethod
    def merge(cls, study_types: Mapping[str, str], study_renames: Mapping[str, str],
              file_types: Mapping[str, str], file_renames: Mapping[str, str]) -> ChannelRules:
        """Return the rules of one file: the study's, overridden key by key by the file's."""
        return cls({**study_types, **file_types}, {**study_renames, **file_renames},
                   frozenset(file_types) | frozenset(file_renames))

    def apply(self, raw: mne.io.BaseRaw, source: Path, option: str
              ) -> tuple[mne.io.BaseRaw, set[str]]:
        """Return a copy of ``raw`` with its channels retyped and renamed, and the keys used.

        Raises
        ------
        DataError
            If a key of the file's own rules matches no channel, or two channels would
            get the same name.
        """
        typed = match_types(self.types, raw.ch_names, raw.get_channel_types())
        renamed = match_renames(self.renames, raw.ch_names, str(source))
        for what, matched in (("channel_types", typed), ("rename_channels", renamed)):
            unused = [key for key in matched.unused if key in self.own_keys]
            if unused:
                raise DataError(
                    f"{source}: {option}[].{what} key(s) {', '.join(unused)} match no channel "
                    f"or channel type of the file; expected names such as "
                    f"{', '.join(raw.ch_names[:3])} or types "
                    f"{', '.join(sorted(set(raw.get_channel_types())))}"
                )
        out = raw.copy()
        if typed.mapping:
            out.set_channel_types(typed.mapping, on_unit_change="ignore", verbose=False)
        if renamed.mapping:
            out.rename_channels(renamed.mapping, verbose=False)
        used = (set(self.types) - set(typed.unused)) | (set(self.renames) - set(renamed.unused))
        return out, used


def check_study_rules_used(rules: Mapping[str, Iterable[str]], used: set[str],
                           sources: list[Path], option: str) -> None:
    """Raise DataError naming the study-wide rule keys that matched no channel of any file.

    Parameters
    ----------
    rules : mapping
        Option name (``channel_types``) -> its keys.
    used : set of str
        The keys that matched a channel of some file.
    sources : list of Path
        The files, named in the message.
    option : str
        Where the options are (``study.options.rawfiles``).
    """
    for what, keys in rules.items():
        unused = [key for key in keys if key not in used]
        if unused:
            raise DataError(
                f"{', '.join(map(str, sources))}: {option}.{what} key(s) {', '.join(unused)} "
                "match no channel or channel type of any file; expected names or types the "
                "files have"
            )
