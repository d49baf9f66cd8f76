"""Errors a stage reports to the user as one line, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BrainreconError(Exception):
    """A problem with the user's input: params, files, recordings."""


class ParamsError(BrainreconError, ValueError):
    """``params.yaml`` has a key, value or type the stage does not accept."""


class DataError(BrainreconError, ValueError):
    """A recording, table or array is missing, malformed or inconsistent."""


def describe_os_error(exc: OSError) -> str:
    """One line for a failed read or write (disk full, permission, missing folder)."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc} ({type(exc).__name__})"


def suggest(name: object, choices: Iterable[object]) -> str:
    """Return ``"; did you mean 'x'?"`` for the choice closest to ``name``, or ``""``.

    Examples
    --------
    >>> suggest("lrr", ["lr", "seed"])
    "; did you mean 'lr'?"
    """
    close = difflib.get_close_matches(str(name), [str(choice) for choice in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
