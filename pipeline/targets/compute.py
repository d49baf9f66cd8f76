"""Compute the target latents of every stimulus of a study (stage contract 3)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pipeline.config import TargetsConfig
from pipeline.errors import DataError
from pipeline.io import read_tsv, write_json, write_tsv
from pipeline.targets import TARGETS

logger = logging.getLogger(__name__)

STIMULUS_COLUMNS = ("stimulus_id", "split", "image", "caption")


def compute_targets(cfg: TargetsConfig, raw_dir: str | Path, out_dir: str | Path) -> dict:
    """Compute the latents of the study's stimuli with the target named in ``cfg``.

    Parameters
    ----------
    cfg : TargetsConfig
        The ``targets`` section of params.yaml (target name, batch size).
    raw_dir : str or Path
        The raw study root; reads ``stimuli/stimuli.tsv`` and what the target needs
        (``stimuli/images/...`` or ``stimuli/latents.npy``).
    out_dir : str or Path
        Where ``latents.npy`` (float32, [n_stimuli, dim]), ``stimuli.tsv`` (row order of the
        latents) and ``info.json`` ({"name", "dim"}) are written; created if missing.

    Returns
    -------
    dict
        The written ``info.json`` plus the number of stimuli.

    Raises
    ------
    DataError
        If ``stimuli.tsv`` or a file the target reads is missing or malformed.
    """
    stimuli_dir = Path(raw_dir) / "stimuli"
    stimuli = read_tsv(stimuli_dir / "stimuli.tsv", required=STIMULUS_COLUMNS)
    stimuli = stimuli.astype({"stimulus_id": str, "split": str, "image": str})
    stimuli["caption"] = stimuli["caption"].fillna("").astype(str)
    duplicated = stimuli["stimulus_id"][stimuli["stimulus_id"].duplicated()].tolist()
    if duplicated:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: stimulus ids {duplicated[:5]} appear more than "
            "once; expected one row per stimulus"
        )
    target = TARGETS.get(cfg.name)
    latents = np.asarray(target(cfg, stimuli_dir, stimuli), dtype=np.float32)  # (n, dim)
    if latents.shape[0] != len(stimuli) or not np.isfinite(latents).all():
        raise DataError(
            f"{stimuli_dir}: target {cfg.name!r} gave latents of shape {latents.shape} "
            f"(finite: {bool(np.isfinite(latents).all())}); expected ({len(stimuli)}, dim), finite"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "latents.npy", latents)
    write_tsv(stimuli[list(STIMULUS_COLUMNS)], out_dir / "stimuli.tsv")
    info = {"name": cfg.name, "dim": int(latents.shape[1])}
    write_json(info, out_dir / "info.json")
    logger.info("targets %s: %d stimuli x %d dims", cfg.name, len(stimuli), latents.shape[1])
    return {**info, "n_stimuli": len(stimuli)}
