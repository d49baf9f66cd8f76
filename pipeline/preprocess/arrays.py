"""Write blocks of rows one at a time, then stack them into one memory-mappable .npy file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


class RowStackWriter:
    """Stack arrays along their first axis without holding them all in memory.

    Each block is saved to a part file beside ``path``; :meth:`close` copies the parts
    into ``path`` (``np.lib.format.open_memmap``) and removes them.

    Parameters
    ----------
    path : Path
        The ``.npy`` file to write.
    dtype : numpy.dtype
        The dtype of the stacked array.
    """

    def __init__(self, path: Path, dtype: np.dtype = np.float32) -> None:
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self._parts_dir = self.path.with_name(f".{self.path.stem}.parts")
        self._parts: list[tuple[Path, tuple[int, ...]]] = []

    def append(self, block: np.ndarray) -> None:
        """Save ``block`` ``(n_rows, ...)`` as the next rows (cast to the writer's dtype)."""
        self._parts_dir.mkdir(exist_ok=True)
        part = self._parts_dir / f"{len(self._parts):06d}.npy"
        np.save(part, np.asarray(block, dtype=self.dtype))
        self._parts.append((part, block.shape))

    def close(self) -> tuple[int, ...]:
        """Write the stacked array and remove the parts; return its shape."""
        shape = (sum(rows for _, (rows, *_) in self._parts), *self._parts[0][1][1:])
        stacked = np.lib.format.open_memmap(self.path, mode="w+", dtype=self.dtype, shape=shape)
        row = 0
        for part, (rows, *_) in self._parts:
            stacked[row : row + rows] = np.load(part, mmap_mode="r")
            row += rows
        stacked.flush()
        del stacked
        shutil.rmtree(self._parts_dir)
        return shape
