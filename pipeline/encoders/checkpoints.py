"""The checkpoints of an encoder's training run, and the fingerprint that names the run.

A run with a checkpoint directory saves ``last.ckpt`` (everything needed to continue:
weights, optimiser, loops, callbacks, the epoch history and the random states of every
process) and ``best.ckpt`` there after every epoch. Each checkpoint carries the run's
fingerprint; a later start resumes from ``last.ckpt`` only if the fingerprint matches,
and otherwise discards the directory (:func:`pipeline.lightning_runs.resume_path`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.encoders.options import TrainConfig
from pipeline.lightning_runs import SOURCE, RunCheckpoints, fingerprint

CODE_DIR = Path(__file__).parent  # pipeline/encoders: the code that trains (a DVC dependency)
PLACEMENT_KEYS = {"accelerator", "strategy", "devices", "num_nodes", "num_threads"}


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

    The settings (JSON), the source of ``pipeline/encoders`` and
    :mod:`pipeline.lightning_runs`, and the relative path, size and modification time of
    every file under ``inputs``. Sizes and times stand in for the content, whose hash
    would cost a full read of the recordings at every start; a rewritten input (a rerun
    upstream stage, a ``dvc checkout``) gets a new time, so its checkpoints are discarded
    rather than resumed.

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
    code = [*sorted(CODE_DIR.glob("*.py")), SOURCE]
    return fingerprint(settings, code, _file_stats(inputs))


def _file_stats(inputs: Sequence[str | Path]) -> Iterator[bytes]:
    """The relative path, size and modification time of every file under ``inputs``."""
    for index, root in enumerate(map(Path, inputs)):
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in (path for path in files if path.is_file()):
            stat = path.stat()
            name = path.relative_to(root) if root.is_dir() else path.name
            yield f"{index}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode()
