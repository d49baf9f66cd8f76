"""Lightning runs: a quiet trainer, checkpoints that let a killed run resume, its curves.

Every model trained by gradient descent (the encoders, the diffusion generator and its
prior, the caption prefix LM, the joint heads) is a Lightning run built from these pieces.
A run with a checkpoint directory saves ``last.ckpt`` there (everything needed to continue:
weights, optimiser, schedule, loops, and under ``STATE_KEY`` the run's fingerprint, curves
and random states); a later start resumes from it only if the fingerprint matches, and
otherwise empties the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import pickle
import random
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from pipeline.distributed import is_primary_process

logger = logging.getLogger(__name__)

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", ".*does not have many workers.*", category=PossibleUserWarning)
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\).*", category=FutureWarning)
warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")
warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode at the start of training.*")

LAST, BEST = "last.ckpt", "best.ckpt"
STATE_KEY = "brainrecon"  # the checkpoint entry a run's on_save_checkpoint writes
SOURCE = Path(__file__)  # part of the code of every run (its fingerprint reads it)


@dataclass(frozen=True)
class RunCheckpoints:
    """Where a training run keeps its checkpoints, and the fingerprint of that run."""

    directory: Path
    fingerprint: str


def fingerprint(settings: dict[str, Any], code: Iterable[Path], data: Iterable[bytes]) -> str:
    """Digest of everything that determines a training run.

    Parameters
    ----------
    settings : dict
        JSON-serialisable settings (values JSON cannot write are written as ``str``).
    code : iterable of Path
        The source files of the code that trains (name and content).
    data : iterable of bytes
        What stands for the inputs: their content, or their sizes and modification times.

    Returns
    -------
    str
        A sha256 hex digest.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for source in code:
        digest.update(source.name.encode() + source.read_bytes())
    for chunk in data:
        digest.update(chunk)
    return digest.hexdigest()


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> Iterator[bytes]:
    """The shape, dtype and content of each tensor, for :func:`fingerprint`."""
    for tensor in tensors:
        tensor = tensor.detach().cpu().contiguous()
        yield f"{tuple(tensor.shape)}:{tensor.dtype}\n".encode()
        yield tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b""


@contextlib.contextmanager
def checkpoint_directory(checkpoints: RunCheckpoints | None) -> Iterator[Path]:
    """The run's checkpoint directory (created), or a temporary one removed on exit."""
    if checkpoints is not None:
        checkpoints.directory.mkdir(parents=True, exist_ok=True)
        yield checkpoints.directory
        return
    with tempfile.TemporaryDirectory(prefix="brainrecon-checkpoints-") as directory:
        yield Path(directory)


def resume_path(checkpoints: RunCheckpoints) -> Path | None:
    """Return the ``last.ckpt`` to resume from, or None to start afresh.

    A checkpoint of another run (its fingerprint differs) or one that cannot be read is
    logged and the directory emptied (by the primary process), so it is never resumed.
    """
    last = checkpoints.directory / LAST
    if not last.is_file():
        return None
    primary = is_primary_process()  # every process decides alike; the primary one tells
    try:
        saved = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
        run, epoch = saved.get(STATE_KEY, {}).get("fingerprint"), int(saved["epoch"])
    except (OSError, RuntimeError, EOFError, KeyError, pickle.UnpicklingError) as exc:
        if primary:
            logger.warning("%s cannot be read (%s); training from scratch", last, exc)
        run = None
    if run == checkpoints.fingerprint:
        if primary:
            logger.info("resuming from epoch %d (%s)", epoch + 1, last)
        return last
    if primary:
        if run is not None:
            logger.warning("discarding the checkpoints in %s: they belong to another run (its "
                           "params, code or inputs differ)", checkpoints.directory)
        shutil.rmtree(checkpoints.directory, ignore_errors=True)
        checkpoints.directory.mkdir(parents=True, exist_ok=True)
    return None


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and python random states, as checkpointable values."""
    _, key, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002  (the global state)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the random states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state((  # noqa: NPY002  (the global state that seed_everything seeds)
        "MT19937", numpy["key"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
        numpy["cached_gaussian"],
    ))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def quiet_trainer(directory: Path, **options: Any) -> pl.Trainer:
    """A Trainer that writes only its checkpoints, into ``directory``.

    No logger, model summary or sanity validation; a progress bar only on a terminal.
    It runs on one CPU unless ``options`` name the hardware (``accelerator``, ``devices``).

    Parameters
    ----------
    directory : Path
        The default root directory (checkpoint callbacks name their own).
    **options
        Further ``pl.Trainer`` arguments (epochs, callbacks, clipping, hardware).
    """
    return pl.Trainer(**{"accelerator": "cpu", "devices": 1, **options},
                      logger=False, enable_progress_bar=sys.stderr.isatty(),
                      enable_model_summary=False, num_sanity_val_steps=0,
                      default_root_dir=directory)


def write_curves(rows: list[dict[str, float]], path: Path) -> None:
    """Write a run's curves (one row per epoch or evaluation) as a CSV file."""
    pd.DataFrame(rows).to_csv(path, index=False)
