"""Folders of real recordings that a study reads from disk (never downloaded): find, verify."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import DataError
from pipeline.io import sha256

logger = logging.getLogger(__name__)

CHECKSUMS = "SHA256SUMS"


def read_checksums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-style file: ``{relative path: digest}``.

    Raises
    ------
    DataError
        If a non-empty line is not ``<64 hex digits> <path>``.
    """
    sums = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise DataError(f"{path}: line {number} is {line!r}; expected '<sha256> <path>'")
        sums[name] = digest.lower()
    return sums


def locate_data(path: str | Path, files: Sequence[str], what: str, option: str) -> Path:
    """Return the folder ``path`` after checking it holds ``files`` (and their checksums).

    A relative ``path`` is taken from the working directory, the project root where DVC
    runs every stage. When a ``SHA256SUMS`` file in the folder or in its parent lists a
    file, its digest is checked.

    Parameters
    ----------
    path : str or Path
        The folder, from the study's options.
    files : sequence of str
        File names the folder must hold.
    what : str
        What the folder is, for error messages ("the Haxby et al. (2001) slice").
    option : str
        The option that set ``path`` (``study.options.haxby2001.path``), for error messages.

    Returns
    -------
    Path
        The folder, resolved.

    Raises
    ------
    DataError
        If the folder or a file is missing, or a file's checksum differs.
    """
    folder = Path(path).resolve()
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        state = "holds no " + ", ".join(missing) if folder.is_dir() else "does not exist"
        raise DataError(
            f"{folder}: {state}; expected {what} with {', '.join(files)} "
            f"(set {option}; real recordings are never downloaded, see docs/studies.md)"
        )
    for sums_path, prefix in ((folder / CHECKSUMS, ""), (folder.parent / CHECKSUMS, folder.name)):
        if not sums_path.is_file():
            continue
        sums = read_checksums(sums_path)
        for name in files:
            expected = sums.get(f"{prefix}/{name}" if prefix else name)
            if expected is not None and sha256(folder / name) != expected:
                raise DataError(
                    f"{folder / name}: SHA-256 differs from {sums_path}; expected the file "
                    "listed there (a truncated or modified copy?)"
                )
        logger.info("%s: checksums verified against %s", folder, sums_path)
        break
    return folder
