"""How a file becomes recordings: a continuous recording, or averaged (evoked) responses.

``FILE_KINDS`` maps ``study.options.rawfiles.files[].kind`` to a reader. ``auto`` picks
the kind whose file-name suffixes match (MNE's naming: ``-ave.fif`` for evoked files),
else ``raw``. MNE is imported when a file is read, not when params are validated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError, ParamsError
from pipeline.read_errors import reading
from pipeline.registry import Registry

if TYPE_CHECKING:
    import mne

logger = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class Recording:
    """One continuous recording made from a file.

    Attributes
    ----------
    raw : mne.io.BaseRaw
        The recording; not preloaded when it is the file itself.
    source : Path
        The file it came from.
    is_file : bool
        Whether ``raw`` is the file as stored, so mne-bids may copy the file rather
        than convert it.
    """

    raw: mne.io.BaseRaw
    source: Path
    is_file: bool


@dataclass(frozen=True)
class FileKind:
    """A reader of one kind of file, and the file-name suffixes ``auto`` gives it."""

    read: Callable[[Path, dict[str, Any]], list[Recording]]
    suffixes: tuple[str, ...] = ()


FILE_KINDS: Registry[FileKind] = Registry("file kind")


READER_HINTS = {  # suffix -> what to try when MNE cannot read such a file with its defaults
    ".cnt": "a 32-bit Neuroscan file needs reader_kwargs {data_format: int32}",
    ".edf": "a header in another encoding than UTF-8 needs reader_kwargs {encoding: latin1}",
    ".bdf": "a header in another encoding than UTF-8 needs reader_kwargs {encoding: latin1}",
}
HINT_WHERE = "study.options.rawfiles or its files[] entry"


def _read_raw(path: Path, reader_kwargs: dict[str, Any]) -> list[Recording]:
    """Read a continuous recording in any format ``mne.io.read_raw`` knows.

    ``reader_kwargs`` go to MNE's reader of the format. Its last sample is read too, so a
    data file shorter than its header says fails here.

    Raises
    ------
    ParamsError
        If the reader takes no argument of that name.
    DataError
        If the file cannot be read; where MNE needs arguments for files of its kind
        (``READER_HINTS``), the message says which to set.
    """
    import mne

    hint = READER_HINTS.get(path.suffix.lower()) if not reader_kwargs else None
    with reading(path, hint=hint and f"{hint} ({HINT_WHERE})"):
        try:
            raw = mne.io.read_raw(path, preload=False, verbose=False, **reader_kwargs)
        except TypeError as exc:
            if "keyword argument" not in str(exc):
                raise
            raise ParamsError(f"{path}: reader_kwargs {sorted(reader_kwargs)}: MNE's reader of "
                              f"{path.suffix or 'this'} files takes no such argument ({exc})"
                              ) from None
        raw.get_data(start=raw.n_times - 1)  # (n_chans, 1): reaches the end of the data
    return [Recording(raw, path, is_file=True)]


def _read_evoked(path: Path, reader_kwargs: dict[str, Any]) -> list[Recording]:
    """Read averaged responses: each condition becomes one recording holding one trial.

    The recording is the condition's average from its first to its last sample; one
    annotation at the average's time zero, described by the condition's name (its FIF
    comment), marks the trial. Conditions are kept apart (one recording each) so that
    no epoch window mixes two averages; one that runs past a condition's edges is left
    out by the epoching step. How many trials each average holds (``nave``) is logged.
    """
    import mne

    if reader_kwargs:
        raise ParamsError(f"{path}: reader_kwargs {sorted(reader_kwargs)} given for an evoked "
                          "file; expected none (mne.read_evokeds takes no reader arguments)")
    with reading(path, "evoked file"):
        evokeds = mne.read_evokeds(path, verbose=False)
    recordings = []
    for evoked in evokeds:
        raw = mne.io.RawArray(evoked.data, evoked.info.copy(), verbose=False)
        raw.set_annotations(mne.Annotations(onset=[-evoked.tmin], duration=[0.0],
                                            description=[evoked.comment or "evoked"]))
        logger.info("%s: condition %r, average of %d trials, %.3f to %.3f s", path.name,
                    evoked.comment, evoked.nave, evoked.tmin, evoked.times[-1])
        recordings.append(Recording(raw, path, is_file=False))
    return recordings


FILE_KINDS.register("raw")(FileKind(_read_raw))
FILE_KINDS.register("evoked")(FileKind(_read_evoked, ("-ave.fif", "_ave.fif", "-ave.fif.gz",
                                                      "_ave.fif.gz")))


def resolve_kind(path: Path, kind: str) -> str:
    """Return ``kind``, or for ``auto`` the kind whose suffixes end ``path`` (else ``raw``)."""
    if kind != AUTO:
        return kind
    name = path.name.lower()
    return next((other for other in FILE_KINDS if name.endswith(FILE_KINDS.get(other).suffixes)),
                "raw")


def read_file(path: Path, kind: str = AUTO, reader_kwargs: dict[str, Any] | None = None
              ) -> list[Recording]:
    """Read the recordings a file (or a directory format such as CTF ``.ds``) holds.

    Parameters
    ----------
    path : Path
        The file (a ``.vhdr``, ``.set``, ``.lay``, ... header where the format has one) or
        the directory of a directory format (CTF ``.ds``, EGI ``.mff``).
    kind : str
        A key of ``FILE_KINDS`` or ``auto``.
    reader_kwargs : dict, optional
        Arguments of MNE's reader of the format.

    Returns
    -------
    list of Recording
        One per continuous recording (one per condition for an evoked file).

    Raises
    ------
    DataError
        If the file is missing, truncated, corrupted, or lacks a file it needs.
    ParamsError
        If the reader takes none of ``reader_kwargs``.
    """
    if not path.exists():
        raise DataError(f"{path}: file not found; expected a recording that MNE reads")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a recording that MNE reads")
    return FILE_KINDS.get(resolve_kind(path, kind)).read(path, dict(reader_kwargs or {}))
