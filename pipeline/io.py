"""Small I/O helpers shared by every stage: atomic outputs, tables, JSON."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, UnidentifiedImageError

from pipeline.errors import DataError

HASH_CHUNK = 1 << 20
MAX_JSON_BYTES = 64 * 2**20  # params-sized and manifest-sized files; far larger is not ours
# matplotlib's savefig(metadata=...): no "Software: Matplotlib version ..." chunk, so that a
# figure is the same bytes whatever matplotlib release drew it (its pixels aside)
PNG_METADATA = {"Software": None}


@contextlib.contextmanager
def atomic_output_dir(path: str | Path) -> Iterator[Path]:
    """Write a directory output all at once, or not at all.

    Yields a temporary sibling directory; on success it replaces ``path``, on any
    exception it is removed, so a failed stage never leaves a half-written output.
    Temporary siblings left by a killed run (``.<name>.*.partial``) are removed first.

    Parameters
    ----------
    path : str or Path
        The final output directory.

    Yields
    ------
    Path
        The temporary directory to write into.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.chmod(0o755)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    tmp.rename(path)


@contextlib.contextmanager
def atomic_output_file(path: str | Path) -> Iterator[Path]:
    """Like :func:`atomic_output_dir`, for a single file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    tmp = Path(name)
    try:
        with open(fd, "wb"):
            pass
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.chmod(0o644)
    tmp.replace(path)


def sha256(path: str | Path) -> str:
    """Return the hexadecimal SHA-256 digest of the file at ``path`` (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(HASH_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def require_file(path: str | Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise a DataError naming it and ``what`` it is."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected {what}")
    return path


def read_rgb(path: str | Path) -> Image.Image:
    """Read a stimulus image as an RGB PIL image, fully loaded (the file is closed).

    Raises
    ------
    DataError
        If the file is missing or is not an image.
    """
    require_file(path, "a stimulus image listed in stimuli.tsv")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None


def read_tsv(path: str | Path, required: list[str] | tuple[str, ...] = (), sep: str = "\t"
             ) -> pd.DataFrame:
    """Read a TSV table (or, with ``sep=","``, a CSV), checking its ``required`` columns.

    Raises
    ------
    DataError
        If the file is missing, unreadable, or lacks a required column.
    """
    kind = "TSV" if sep == "\t" else "CSV"
    path = require_file(path, f"a {kind} table")
    try:
        table = pd.read_csv(path, sep=sep, dtype={"stimulus_id": str, "subject": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable {kind} table ({exc})") from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}"
        )
    return table


def write_tsv(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` as TSV without the index."""
    table.to_csv(path, sep="\t", index=False)


def read_json(path: str | Path) -> Any:
    """Read a JSON file, raising DataError naming the file if it is missing or malformed.

    Files larger than ``MAX_JSON_BYTES`` and documents nested too deeply for the parser are
    refused the same way.
    """
    path = require_file(path, "a JSON file")
    size = Path(path).stat().st_size
    if size > MAX_JSON_BYTES:
        raise DataError(f"{path}: {size} bytes; expected a JSON file of at most "
                        f"{MAX_JSON_BYTES} bytes")
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to read; expected the file as "
                        "brainrecon wrote it") from None


def require_keys(data: Any, keys: tuple[str, ...], source: str | Path) -> dict[str, Any]:
    """``data`` if it is a mapping holding every one of ``keys``, else a DataError naming
    ``source`` and what is missing."""
    if not isinstance(data, dict):
        raise DataError(f"{source}: a JSON {type(data).__name__}; expected an object with "
                        f"{', '.join(keys)}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise DataError(f"{source}: no {', '.join(missing)}; expected {', '.join(keys)}")
    return data


def write_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON."""
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
