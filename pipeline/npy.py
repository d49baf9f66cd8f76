"""Read ``.npy`` arrays from untrusted files and uploads: the header is checked first.

``numpy.load`` trusts a file's header: a few bytes declaring 10^12 elements make it try to
allocate terabytes, and an object dtype would need unpickling. Here the header is parsed
alone, the declared size must equal the bytes that follow it and the dtype must be numeric;
only then is the array read (``allow_pickle=False``).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from pipeline.errors import DataError
from pipeline.io import require_file

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0,
                  (2, 0): npy_format.read_array_header_2_0}


def _read_checked(stream: BinaryIO, total_bytes: int, source: str) -> np.ndarray:
    """The array of an ``.npy`` stream of ``total_bytes`` bytes, header checked first."""
    try:
        version = npy_format.read_magic(stream)
        if version not in HEADER_READERS:
            raise ValueError(f"format version {version}; expected 1.0 or 2.0")
        shape, _, dtype = HEADER_READERS[version](stream)
    except Exception as exc:  # noqa: BLE001  the header parser fails in many ways on bad bytes
        raise DataError(f"{source}: not a readable .npy array "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None
    if dtype.hasobject:
        raise DataError(f"{source}: dtype {dtype} holds Python objects; expected numbers "
                        "(objects would need unpickling)")
    if dtype.kind not in NUMERIC_KINDS:
        raise DataError(f"{source}: dtype {dtype}; expected a numeric array")
    declared = math.prod(shape) * dtype.itemsize
    available = total_bytes - stream.tell()
    if declared != available:
        raise DataError(f"{source}: the .npy header declares shape {shape} of {dtype} "
                        f"({declared} bytes), but {available} bytes follow it; expected the "
                        "two to match")
    stream.seek(0)
    try:
        return np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{source}: not a readable .npy array ({exc})") from None


def read_npy_bytes(payload: bytes, source: str) -> np.ndarray:
    """Parse ``.npy`` bytes (an upload), refusing what :mod:`pipeline.npy` refuses.

    Raises
    ------
    DataError
        Naming ``source``: not ``.npy`` (an ``.npz`` included), not numbers, or a header
        whose declared size differs from the bytes sent.
    """
    return _read_checked(io.BytesIO(payload), len(payload), source)


def read_npy_file(path: str | Path, what: str) -> np.ndarray:
    """Read an ``.npy`` file (``what`` it is, for the error if it is missing), checked first.

    Raises
    ------
    DataError
        Naming the file, as :func:`read_npy_bytes`.
    """
    path = require_file(path, what)
    with open(path, "rb") as stream:
        return _read_checked(stream, path.stat().st_size, str(path))
