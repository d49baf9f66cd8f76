"""Checkpoints that let a killed training run resume, and only the run they belong to.

A run with a checkpoint directory saves ``last.ckpt`` (everything needed to continue:
weights, optimiser, loops, callbacks, the epoch history and the random states of every
process) and ``best.ckpt`` there after every epoch. Each checkpoint carries the run's
fingerprint; a later start resumes from ``last.ckpt`` only if the fingerprint matches,
and otherwise discards the directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.distributed import is_primary_process
from pipeline.encoders.options import TrainConfig

logger = logging.getLogger(__name__)

LAST, BEST = "last.ckpt", "best.ckpt"
STATE_KEY = "brainrecon"  # the checkpoint entry written by EncoderLitModule.on_save_checkpoint
CODE_DIR = Path(__file__).parent  # pipeline/encoders: the code that trains (a DVC dependency)
PLACEMENT_KEYS = {"accelerator", "strategy", "devices", "num_nodes", "num_threads"}


@dataclass(frozen=True)
class RunCheckpoints:
    """Where a training run keeps its checkpoints, and the fingerprint of that run."""

    directory: Path
    fingerprint: str


def run_checkpoints(directory: str | Path, encoder: str, options: dict[str, Any],
                    cfg: TrainConfig, inputs: Sequence[str | Path]) -> RunCheckpoints:
    """The checkpoints of fitting ``encoder`` with ``options`` and ``cfg`` on ``inputs``.

    The fingerprint leaves out ``PLACEMENT_KEYS``: where the run executes does not
    change what it computes (beyond rounding), so a run may resume on other hardware.
    """
    settings = {"encoder": encoder, "options": options,
                "train": cfg.model_dump(mode="json", exclude=PLACEMENT_KEYS)}
    return RunCheckpoints(Path(directory), run_fingerprint(settings, inputs))


def run_fingerprint(settings: dict[str, Any], inputs: Sequence[str | Path]) -> str:
    """Digest of everything that determines a training run.

    The settings (JSON), the source of ``pipeline/encoders``, and the relative path, size
    and modification time of every file under ``inputs``. Sizes and times stand in for
    the content, whose hash would cost a full read of the recordings at every start; a
    rewritten input (a rerun upstream stage, a ``dvc checkout``) gets a new time, so its
    checkpoints are discarded rather than resumed.

    Parameters
    ----------
    settings : dict
        JSON-serialisable settings (train config, encoder and options).
    inputs : sequence of str or Path
        Input files or directories.

    Returns
    -------
    str
        A sha256 hex digest.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for source in sorted(CODE_DIR.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    for index, root in enumerate(map(Path, inputs)):
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in (path for path in files if path.is_file()):
            stat = path.stat()
            name = path.relative_to(root) if root.is_dir() else path.name
            digest.update(f"{index}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
        fingerprint, epoch = saved.get(STATE_KEY, {}).get("fingerprint"), int(saved["epoch"])
    except (OSError, RuntimeError, EOFError, KeyError, pickle.UnpicklingError) as exc:
        if primary:
            logger.warning("%s cannot be read (%s); training from scratch", last, exc)
        fingerprint = None
    if fingerprint == checkpoints.fingerprint:
        if primary:
            logger.info("resuming from epoch %d (%s)", epoch + 1, last)
        return last
    if primary:
        if fingerprint is not None:
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
