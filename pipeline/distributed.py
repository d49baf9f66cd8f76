"""Which process of a distributed run writes the outputs.

A DDP run of a stage script is several processes running the same script: Lightning's
``ddp`` launcher starts the script again for every other local device (with
``LOCAL_RANK``), and torchrun or SLURM start one copy per process (``RANK``,
``SLURM_PROCID``). Every copy trains, but only the primary process (global rank 0)
writes the stage's outputs; the others write into a directory that is thrown away.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.io import atomic_output_dir

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID",
                  "JSM_NAMESPACE_RANK")  # set by Lightning, torchrun, SLURM and LSF launchers


def is_primary_process() -> bool:
    """True unless a launcher started this process as a rank other than global rank 0."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


@contextlib.contextmanager
def primary_output_dir(path: str | Path) -> Iterator[Path]:
    """:func:`pipeline.io.atomic_output_dir` on the primary process; elsewhere a scratch dir.

    Parameters
    ----------
    path : str or Path
        The stage's output directory.

    Yields
    ------
    Path
        Where to write: the atomic temporary sibling of ``path`` on the primary process,
        a temporary directory removed on exit on every other rank.
    """
    if is_primary_process():
        with atomic_output_dir(path) as out:
            yield out
    else:
        with tempfile.TemporaryDirectory(prefix="brainrecon-rank-") as scratch:
            yield Path(scratch)
