"""Raw recordings uploaded to ``decode_raw``: their formats, their file names, and the private
temporary folder MNE reads them from.

A recording is one file (FIF, EDF, BDF, EEGLAB ``.set`` holding its data) or a header with the
files it names (BrainVision ``.vhdr`` + ``.vmrk`` + ``.eeg``, EEGLAB ``.set`` + ``.fdt``). The
format comes from the recording's file-name extension, looked up in :data:`RAW_FORMATS`; the
files a header names must be uploaded under exactly those names. Every file name is reduced to
its last component and checked against :data:`SAFE_NAME` before anything is written, and the
folder (mode 0700) is removed whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import mne
import numpy as np
import scipy.io

from pipeline.errors import DataError

SAFE_NAME = re.compile(r"\w[\w .()+-]*")
MAX_NAME_CHARS = 128
NO_EXTENSION_READ_AS = ".fif"  # decode_raw read FIF only before it read other formats
NO_EXTENSION_NAME = "recording"
DETAIL_LENGTH = 160
BRAINVISION_NAMED = re.compile(r"^\s*(DataFile|MarkerFile)\s*=(.*)$", re.MULTILINE)

NamedFiles = list[tuple[str, str]]  # (the header's entry, the file name it holds)


@dataclass(frozen=True)
class Part:
    """One uploaded file: the form field it came in, the name the client gave it, its bytes.

    ``source`` names the part in messages (``recording``, ``companions[0]``).
    """

    source: str
    filename: str | None
    file: BinaryIO


@dataclass(frozen=True)
class NamedPart:
    """An uploaded file under its checked name (the name it is written under)."""

    part: Part
    name: str

    @property
    def shown(self) -> str:
        """The part and its name, for messages: ``recording 'sub-01.vhdr'``."""
        return f"{self.part.source} {self.name!r}"

    @property
    def name_on_disk(self) -> str:
        """The name MNE reads it under: one without an extension is FIF (``upload.fif``)."""
        if extension_of(self.name):
            return self.name
        return f"{self.name or NO_EXTENSION_NAME}{NO_EXTENSION_READ_AS}"


def _names_nothing(header: Path) -> NamedFiles:
    """The files a single-file recording names: none."""
    return []


def brainvision_named_files(header: Path) -> NamedFiles:
    """The ``DataFile`` and ``MarkerFile`` entries of a BrainVision ``.vhdr`` header."""
    text = header.read_bytes().decode("utf-8", errors="replace")
    return [(key, value.strip()) for key, value in BRAINVISION_NAMED.findall(text)]


def eeglab_named_files(header: Path) -> NamedFiles:
    """The data file an EEGLAB ``.set`` names in ``EEG.data`` (none when it holds the data).

    Raises
    ------
    Exception
        What SciPy raises on a file it cannot read (MATLAB v7.3 / HDF5 files included).
    """
    mat = scipy.io.loadmat(header, squeeze_me=True, simplify_cells=True,
                           variable_names=("EEG", "data"))
    eeg = mat.get("EEG", mat)
    data = eeg.get("data") if isinstance(eeg, dict) else None
    return [("EEG.data", data)] if isinstance(data, str) else []


@dataclass(frozen=True)
class RawFormat:
    """A recording format ``decode_raw`` reads.

    Attributes
    ----------
    label : str
        Its name in messages.
    companions : tuple of str
        The extensions of the files its header may name (uploaded as ``companions``).
    named_files : callable
        Header path -> the (entry, file name) pairs of the files it names.
    """

    label: str
    companions: tuple[str, ...] = ()
    named_files: Callable[[Path], NamedFiles] = field(default=_names_nothing)


RAW_FORMATS: dict[str, RawFormat] = {
    ".fif": RawFormat("FIF"),
    ".edf": RawFormat("EDF"),
    ".bdf": RawFormat("BDF"),
    ".vhdr": RawFormat("BrainVision", (".vmrk", ".eeg"), brainvision_named_files),
    ".set": RawFormat("EEGLAB", (".fdt",), eeglab_named_files),
}


def _one_line(exc: Exception, directory: Path) -> str:
    """An exception's message on one line, printable ASCII, without the temporary folder."""
    text = str(exc).replace(f"{directory}{os.sep}", "")
    text = " ".join(text.split()).encode("ascii", "backslashreplace").decode()
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= DETAIL_LENGTH else text[:DETAIL_LENGTH - 3] + "..."


def safe_name(part: Part) -> str:
    """The last component of a part's file name, checked (``../x.vhdr`` -> ``x.vhdr``).

    Raises
    ------
    DataError
        If the name is not letters, digits and ``_ .()+-`` (starting with a letter, digit or
        ``_``), or longer than ``MAX_NAME_CHARS``.
    """
    name = PurePosixPath((part.filename or "").replace("\\", "/")).name
    if name and (len(name) > MAX_NAME_CHARS or not SAFE_NAME.fullmatch(name)):
        shown = name[:MAX_NAME_CHARS].encode("ascii", "backslashreplace").decode()
        raise DataError(f"{part.source}: file name {shown!r}; expected at most "
                        f"{MAX_NAME_CHARS} letters, digits, '_', ' ', '.', '(', ')', '+' or '-', "
                        "starting with a letter, digit or '_'")
    return name


def extension_of(name: str) -> str:
    """The lower-case extension of a file name (``""`` without one)."""
    return PurePosixPath(name).suffix.lower()


def accepted_extensions() -> str:
    """The accepted recording extensions, for messages."""
    return ", ".join(RAW_FORMATS)


def recording_format(recording: NamedPart) -> RawFormat:
    """The format of the uploaded recording, from its file-name extension.

    Raises
    ------
    DataError
        Naming the file, its extension and the accepted ones.
    """
    extension = extension_of(recording.name) or NO_EXTENSION_READ_AS
    if extension not in RAW_FORMATS:
        raise DataError(f"{recording.shown}: extension {extension!r}; expected one of "
                        f"{accepted_extensions()} (a file named without an extension is read as "
                        "FIF)")
    return RAW_FORMATS[extension]


def check_companions(raw_format: RawFormat, recording: NamedPart,
                     companions: list[NamedPart]) -> None:
    """Refuse more companions than the format has, others than its extensions, repeated names.

    Raises
    ------
    DataError
        Naming the companion, its extension and the ones expected.
    """
    expected = ", ".join(raw_format.companions) or "none"
    if len(companions) > len(raw_format.companions):
        raise DataError(f"companions: {len(companions)} uploaded; expected at most "
                        f"{len(raw_format.companions)} with {raw_format.label} recordings "
                        f"({expected})")
    for companion in companions:
        if extension_of(companion.name) not in raw_format.companions:
            raise DataError(f"{companion.shown}: extension {extension_of(companion.name)!r}; "
                            f"expected for {raw_format.label} recordings: {expected}")
    names = [recording.name, *(companion.name for companion in companions)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"companions: file name {repeated[0]!r} uploaded twice; expected each "
                        "file once")


def unreadable(recording: NamedPart, raw_format: RawFormat, exc: Exception,
               directory: Path) -> DataError:
    """The error for a recording a reader failed on, in the reader's words."""
    return DataError(f"{recording.shown}: not a readable {raw_format.label} recording "
                     f"({_one_line(exc, directory)})")


def header_named_files(raw_format: RawFormat, recording: NamedPart, header: Path) -> NamedFiles:
    """The files the written header names.

    Raises
    ------
    DataError
        If the header cannot be read.
    """
    try:
        return raw_format.named_files(header)
    except Exception as exc:  # noqa: BLE001  a damaged header fails in many ways
        raise unreadable(recording, raw_format, exc, header.parent) from None


def check_named_files(recording: NamedPart, named: NamedFiles,
                      companions: list[NamedPart]) -> None:
    """Check that the files a header names are the companions uploaded, by exact name.

    Raises
    ------
    DataError
        Naming a file the header names that was not uploaded, or a companion it does not name.
    """
    uploaded = {recording.name, *(companion.name for companion in companions)}
    for entry, name in named:
        if name not in uploaded:
            shown = name[:MAX_NAME_CHARS].encode("ascii", "backslashreplace").decode()
            raise DataError(f"{recording.shown} names {entry} {shown!r}, which was not "
                            f"uploaded (uploaded: {', '.join(sorted(uploaded))}); expected it "
                            "among the companions under exactly that name")
    wanted = {name for _, name in named}
    for companion in companions:
        if companion.name not in wanted:
            raise DataError(f"{companion.shown}: not named by {recording.name!r} (it names "
                            f"{', '.join(sorted(wanted)) or 'no other file'}); expected only "
                            "the files its header names")


def write_part(directory: Path, upload: NamedPart) -> Path:
    """Copy an uploaded file into ``directory`` under its checked name; return its path."""
    path = directory / upload.name_on_disk
    upload.part.file.seek(0)
    with open(path, "xb") as out:  # never over an existing file or link
        shutil.copyfileobj(upload.part.file, out)
    return path


def read_raw_file(path: Path, raw_format: RawFormat, recording: NamedPart) -> mne.io.BaseRaw:
    """Read a written recording with ``mne.io.read_raw``, preloaded.

    Raises
    ------
    DataError
        If MNE cannot read it, in MNE's words (without the temporary folder).
    """
    try:
        return mne.io.read_raw(path, preload=True, verbose="error")
    except Exception as exc:  # noqa: BLE001  MNE's readers fail in many ways on bad bytes
        raise unreadable(recording, raw_format, exc, path.parent) from None


def check_finite(raw: mne.io.BaseRaw, recording: NamedPart) -> mne.io.BaseRaw:
    """Return ``raw`` if every sample is a finite number.

    Raises
    ------
    DataError
        Naming the recording and how many samples are NaN or infinite.
    """
    bad = sum(int(np.count_nonzero(~np.isfinite(raw.get_data(picks=[index]))))
              for index in range(len(raw.ch_names)))  # a channel at a time: no full copy
    if bad:
        raise DataError(f"{recording.shown}: {bad} samples are NaN or infinite; expected "
                        "finite numbers")
    return raw


@contextmanager
def private_folder() -> Iterator[Path]:
    """A new temporary folder only this process's user may enter (0700), removed on exit."""
    with tempfile.TemporaryDirectory(prefix="brainrecon-upload-") as name:
        yield Path(name)


def read_uploaded_raw(recording: Part, companions: list[Part]) -> mne.io.BaseRaw:
    """Read an uploaded recording (and the files its header names), preloaded.

    Names and formats are checked first; the files are then written to a private temporary
    folder, the files the header names checked against the companions, the recording read
    with ``mne.io.read_raw`` and the folder removed (on errors too).

    Parameters
    ----------
    recording : Part
        The recording, or the header of a multi-file format (``.vhdr``, ``.set``).
    companions : list of Part
        The files the header names (``.vmrk`` and ``.eeg``; ``.fdt``), under those names.

    Returns
    -------
    mne.io.BaseRaw

    Raises
    ------
    DataError
        Naming the part, its file name and what was expected: an unsafe name, an unknown
        extension, a companion the format has not or the header does not name, a file the
        header names that was not uploaded, a file MNE cannot read, or samples that are not
        finite.
    """
    main = NamedPart(recording, safe_name(recording))
    raw_format = recording_format(main)
    others = [NamedPart(part, safe_name(part)) for part in companions]
    check_companions(raw_format, main, others)
    with private_folder() as directory:
        header = write_part(directory, main)
        for companion in others:
            write_part(directory, companion)
        check_named_files(main, header_named_files(raw_format, main, header), others)
        return check_finite(read_raw_file(header, raw_format, main), main)
