"""Read safetensors weight files, naming the file when it is missing, truncated or corrupt."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from pipeline.errors import DataError
from pipeline.io import require_file


def read_weights(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file at ``path`` (``what`` it holds, for errors).

    Raises
    ------
    DataError
        If the file is missing, or its header or data cannot be read.
    """
    path = require_file(path, what)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable safetensors file of {what} ({exc}); "
                        "expected the file as brainrecon wrote it") from None
