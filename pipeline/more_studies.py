"""Add studies to params.yaml: the full set of simulated studies is one switch.

The shipped ``params.yaml`` runs the default studies; ``more-studies.yaml`` holds the others
(``meg``, ``seeg``, ``fmri``) with their overrides. :func:`add_studies` inserts them under
``studies:`` keeping both files' comments (``make demo STUDIES=all`` calls it through
``brainrecon add-studies``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import STUDY_GROUPS, load_section
from pipeline.errors import BrainreconError, ParamsError
from pipeline.sections import section_model


def add_studies(more: Path, params: Path = Path("params.yaml")) -> list[str]:
    """Append the studies of ``more`` to the ``studies`` of ``params``; return their keys.

    ``more`` maps study keys to their overrides, as under ``studies:``. Its text is inserted,
    indented, after the last indented line of the block that ``studies:`` opens in
    ``params``, so both files keep their comments and layout. Nothing is written when
    ``params`` already has every study of ``more``; the result is validated (every section
    of every added study) before it replaces ``params``.

    Raises
    ------
    ParamsError
        If a file is missing or malformed, ``params`` has no block ``studies:`` of entries,
        it has some of the studies of ``more`` only, or an added study does not validate.
    """
    for path in (more, params):
        if not path.is_file():
            raise ParamsError(f"{path}: file not found")
    text, extra = params.read_text(), more.read_text()
    try:
        current, entries = yaml.safe_load(text) or {}, yaml.safe_load(extra) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{params} or {more}: not valid YAML ({exc})".replace("\n", " ")
                          ) from None
    if not isinstance(entries, dict) or not entries:
        raise ParamsError(f"{more}: expected a mapping of study keys to their overrides")
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "studies:"), None)
    if start is None or not isinstance(current, dict) or not isinstance(
            current.get("studies"), dict):
        raise ParamsError(f"{params}: expected a line 'studies:' opening the block of studies "
                          f"(the studies of {more} are inserted in it)")
    end = start  # the block's last indented line: comments at column 0 belong to the next key
    for i in range(start + 1, len(lines)):
        if lines[i][:1] not in ("", " "):
            break
        if lines[i].strip():
            end = i
    present = [key for key in entries if key in current["studies"]]
    if len(present) == len(entries):
        return []
    if present:
        raise ParamsError(f"{params}: has {', '.join(present)} of {more} but not the others; "
                          f"expected all or none of {', '.join(entries)}")
    indented = [f"  {line}".rstrip() for line in extra.rstrip("\n").split("\n")]
    tmp = params.with_name(f".{params.name}.adding")
    tmp.write_text("\n".join(lines[:end + 1] + indented + lines[end + 1:]))
    try:
        for key in entries:
            for section in STUDY_GROUPS["studies"]:
                load_section(section_model(section), tmp, key)
    except BrainreconError as exc:
        tmp.unlink()
        raise ParamsError(str(exc).replace(str(tmp), f"{params} with {more}")) from None
    tmp.replace(params)
    return list(entries)
