"""Logging set-up for stage scripts and the command line (the library only logs)."""

from __future__ import annotations

import logging
import os
import warnings

QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "mne", "mne_bids")


def setup_logging(name: str, level: int = logging.INFO) -> None:
    """Log ``[name] message`` lines to stderr, from rank zero only, and quiet noisy libraries.

    Parameters
    ----------
    name : str
        The stage or command name shown in front of every line.
    level : int
        The level for brainrecon's own loggers.
    """
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    logging.basicConfig(
        level=level if rank == 0 else logging.WARNING,
        format=f"[{name}] %(message)s",
        force=True,
    )
    for logger_name in QUIET_LOGGERS:
        logging.getLogger(logger_name).setLevel(logging.WARNING)
    os.environ.setdefault("MNE_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", module="mne_bids")
