"""Turn what goes wrong while MNE reads a recording into one DataError line naming the file.

Readers fail in their own words ("buffer size must be a multiple of element size",
"Bad EDF file provided."), and some do not fail at all on a truncated file: they read
the samples that are there and warn. :func:`reading` names the file, says what is wrong
(missing companion file, truncated, corrupted) and keeps MNE's words in brackets.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.errors import BrainreconError, DataError

logger = logging.getLogger(__name__)

DETAIL_LENGTH = 160
TRUNCATION_WARNINGS = (
    "does not match the file size",  # EDF/BDF: fewer data records than the header declares
    "outside data range",  # markers or events.tsv rows after the last sample
)
TRUNCATION_ERRORS = (
    "buffer size must be a multiple",  # a FIF tag cut short
    "incorrect number of samples",  # EEGLAB .fdt shorter than the .set declares
    "ended before the end-of-stream",  # gzip cut short
)


def _one_line(text: object) -> str:
    """Return ``text`` on one line."""
    return " ".join(str(text).split())


def _truncated(exc: Exception) -> bool:
    message = str(exc).lower()
    return isinstance(exc, (EOFError, zlib.error)) or any(
        marker in message for marker in TRUNCATION_ERRORS
    )


PROBLEMS: tuple[tuple[Callable[[Exception], bool], str], ...] = (
    (lambda exc: isinstance(exc, FileNotFoundError), "a file it needs is missing"),
    (lambda exc: "unsupported file type" in str(exc).lower(), "MNE has no reader for it"),
    (_truncated, "the file is truncated or incomplete"),
    (lambda exc: True, "the file is corrupted or not in the format its name says"),
)


def describe(exc: Exception) -> str:
    """Say in words what is wrong with a file that raised ``exc`` while read, then why.

    The reader's message is kept in brackets, in printable ASCII and at most
    ``DETAIL_LENGTH`` characters (a corrupted header can put any bytes in it).
    """
    problem = next(phrase for matches, phrase in PROBLEMS if matches(exc))
    detail = _one_line(exc).encode("ascii", "backslashreplace").decode() or type(exc).__name__
    if len(detail) > DETAIL_LENGTH:
        detail = detail[: DETAIL_LENGTH - 3] + "..."
    return f"{problem} ({detail})"


@contextlib.contextmanager
def reading(path: str | Path, what: str = "recording", hint: str | None = None
            ) -> Iterator[None]:
    """Report any failure of the reading done in the ``with`` block as one DataError.

    Warnings that say the data stop before the header or the events do (a truncated
    file) become errors too; other warnings pass through unchanged.

    Parameters
    ----------
    path : str or Path
        The file being read, named in the message.
    what : str
        What the file is ("recording", "evoked file").
    hint : str, optional
        What the user may try, appended to the message of a failed read.

    Raises
    ------
    DataError
        ``<path>: cannot read the <what>: <what is wrong> (<the reader's message>)``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except BrainreconError:
            raise
        except Exception as exc:  # readers raise anything from struct.error to KeyError
            advice = f"; {hint}" if hint else ""
            raise DataError(f"{path}: cannot read the {what}: {describe(exc)}{advice}") from None
    for warning in caught:
        text = _one_line(warning.message)
        if any(marker in text for marker in TRUNCATION_WARNINGS):
            raise DataError(
                f"{path}: cannot read the {what}: the data end before its header or events "
                f"say they do; the file is probably truncated ({text})"
            )
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno, source=warning.source)
