"""Read a dict saved with ``numpy.save`` (an object array) without running arbitrary pickles.

Some datasets ship their arrays as a pickled dict in an ``.npy`` file (THINGS-EEG2:
``{"preprocessed_eeg_data": ..., "ch_names": ..., "times": ...}``). ``numpy.load(...,
allow_pickle=True)`` would run whatever the pickle names; here the unpickler may only build
numpy arrays, dtypes and scalars, and the builtin containers and values, so a tampered file
fails with an error instead of running code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from pipeline.errors import DataError
from pipeline.io import require_file
from pipeline.npy import HEADER_READERS

ALLOWED_GLOBALS = {  # what a pickled numpy dict needs, under numpy 1 and 2 module names
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "str"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("collections", "OrderedDict"),
}


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def read_npy_dict(path: str | Path, what: str) -> dict[str, Any]:
    """Read the dict that ``numpy.save`` wrote into ``path``.

    Parameters
    ----------
    path : str or Path
        The ``.npy`` file.
    what : str
        What the file is, for errors ("THINGS-EEG2 training data").

    Returns
    -------
    dict
        The saved dict (its arrays as numpy arrays).

    Raises
    ------
    DataError
        If the file is missing, is not an ``.npy`` of one pickled dict, or its pickle
        names anything but numpy arrays and builtin values.
    """
    path = require_file(path, what)
    with open(path, "rb") as stream:
        try:
            version = npy_format.read_magic(stream)
            if version not in HEADER_READERS:
                raise ValueError(f"format version {version}; expected 1.0 or 2.0")
            shape, _, dtype = HEADER_READERS[version](stream)
            if not dtype.hasobject or shape != ():
                raise DataError(f"{path}: an array of shape {shape} and dtype {dtype}; "
                                f"expected {what}: one dict saved by numpy.save")
            saved = _ArraysOnly(stream).load()
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001  a damaged pickle fails in many ways
            raise DataError(f"{path}: cannot read {what} ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None
    value = saved.item() if isinstance(saved, np.ndarray) else saved
    if not isinstance(value, dict):
        raise DataError(f"{path}: holds a {type(value).__name__}; expected {what}: a dict")
    return value
