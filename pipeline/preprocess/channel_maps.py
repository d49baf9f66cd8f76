"""Channel renames and channel types given in params, with shell-style wildcards.

A rule's key is a channel name (``EMG``), a pattern over names (``EXG*``, ``EEG ?``; ``*``
and ``?`` as in a shell, case-sensitive) or, for types only, a current channel type
(``eeg``). A rename's value may hold ``*``: each is replaced by the text the key's
wildcards matched, in order (``"EEG *-REF": "*"`` turns ``EEG Fp1-REF`` into ``Fp1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from pipeline.errors import DataError

WILDCARDS = ("*", "?")


def is_pattern(key: str) -> bool:
    """Return whether ``key`` holds a wildcard (``*`` or ``?``)."""
    return any(wildcard in key for wildcard in WILDCARDS)


def _pattern_regex(key: str) -> re.Pattern[str]:
    """Return the regex of a shell pattern, one group per wildcard."""
    parts = {"*": "(.*)", "?": "(.)"}
    return re.compile("".join(parts.get(char, re.escape(char)) for char in key) + r"\Z")


def check_rename_rule(key: str, value: str) -> None:
    """Check one rename rule: a non-empty target with no more ``*`` than the key has wildcards.

    Raises
    ------
    ValueError
        Naming the rule and what is wrong (pydantic turns it into a ParamsError).
    """
    wildcards = sum(key.count(wildcard) for wildcard in WILDCARDS)
    if not value.strip():
        raise ValueError(f"{key!r}: got an empty new name; expected a channel name")
    if value.count("*") > wildcards:
        raise ValueError(f"{key!r} -> {value!r}: the new name has {value.count('*')} '*' but "
                         f"the key {wildcards} wildcard(s); expected at most as many")
    if "?" in value:
        raise ValueError(f"{key!r} -> {value!r}: '?' in a new name; expected '*' to insert "
                         "the text a wildcard matched")


@dataclass(frozen=True)
class Matched:
    """What a set of rules does to one recording's channels.

    Attributes
    ----------
    mapping : dict
        Channel name -> its new name or type, for the channels a rule matched.
    unused : list of str
        The rules' keys that matched no channel.
    """

    mapping: dict[str, str]
    unused: list[str]


def match_types(rules: Mapping[str, str], names: Sequence[str], types: Sequence[str]
                ) -> Matched:
    """Return each channel's new type: by its name, else a pattern, else its current type.

    Parameters
    ----------
    rules : mapping of str to str
        Channel name, pattern or current channel type -> MNE channel type.
    names, types : sequence of str
        The recording's channel names and their current types.
    """
    patterns = [key for key in rules if is_pattern(key)]
    used: set[str] = set()
    mapping = {}
    for name, kind in zip(names, types, strict=True):
        matching = (key for key in patterns if _pattern_regex(key).match(name))
        key = name if name in rules else next(matching, kind)
        if key in rules:
            mapping[name] = rules[key]
            used.add(key)
    return Matched(mapping, [key for key in rules if key not in used])


def match_renames(rules: Mapping[str, str], names: Sequence[str], source: str) -> Matched:
    """Return each matched channel's new name; a name wins over a pattern, patterns in order.

    Raises
    ------
    DataError
        If two channels would end with the same name (naming them and the rules).
    """
    mapping = {}
    used: set[str] = set()
    for name in names:
        if name in rules:
            key, groups = name, ()
        else:
            found = ((key, _pattern_regex(key).match(name)) for key in rules if is_pattern(key))
            key, match = next(((key, match) for key, match in found if match), (None, None))
            if key is None:
                continue
            groups = match.groups()
        first, *rest = rules[key].split("*")  # len(rest) <= len(groups): check_rename_rule
        filled = (group + text for group, text in zip(groups, rest, strict=False))
        mapping[name] = first + "".join(filled)
        used.add(key)
    final = [mapping.get(name, name) for name in names]
    clashes = sorted({name for name in final if final.count(name) > 1})
    if clashes:
        sources = [old for old in names if mapping.get(old, old) == clashes[0]]
        raise DataError(f"{source}: channels {', '.join(sources)} would all be named "
                        f"{clashes[0]!r} (rename_channels); expected distinct new names")
    return Matched(mapping, [key for key in rules if key not in used])


def check_type_rules(rules: dict[str, str]) -> dict[str, str]:
    """Check that every value of ``rules`` is an MNE channel type; return ``rules``.

    Raises
    ------
    ValueError
        Naming the unknown types (pydantic turns it into a ParamsError).
    """
    if rules:
        from mne.io import get_channel_type_constants

        known = get_channel_type_constants()
        wrong = sorted({kind for kind in rules.values() if kind not in known})
        if wrong:
            raise ValueError(f"got channel type(s) {', '.join(wrong)}; expected MNE types "
                             "such as eeg, ecog, seeg, eog, emg, ecg, misc, stim")
    return rules


def check_rename_rules(rules: dict[str, str]) -> dict[str, str]:
    """Check every rule of ``rules`` with :func:`check_rename_rule`; return ``rules``."""
    for key, value in rules.items():
        check_rename_rule(key, value)
    return rules


TypeRules = Annotated[dict[str, str], AfterValidator(check_type_rules)]
RenameRules = Annotated[dict[str, str], AfterValidator(check_rename_rules)]
