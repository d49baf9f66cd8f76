"""Compute the target latents of every stimulus of a study (stage contract 3)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from pipeline.errors import DataError
from pipeline.io import read_tsv, write_json, write_tsv
from pipeline.lightning_runs import write_curves
from pipeline.targets.base import TARGETS, TargetOutput
from pipeline.targets.options import TargetsConfig

logger = logging.getLogger(__name__)

STIMULUS_COLUMNS = ("stimulus_id", "split", "caption")
MEDIA_COLUMNS = ("image", "audio")  # a stimulus table holds at least one; paths in stimuli/


def compute_targets(cfg: TargetsConfig, raw_dir: str | Path, out_dir: str | Path) -> dict:
    """Compute the latents of the study's stimuli with the target named in ``cfg``.

    Parameters
    ----------
    cfg : TargetsConfig
        The ``targets`` section of params.yaml (target name, batch size, threads, options).
    raw_dir : str or Path
        The raw study root; reads ``stimuli/stimuli.tsv`` (stimulus_id, split, caption and
        an ``image`` or an ``audio`` column) and what the target needs (``stimuli/images/...``,
        ``stimuli/audio/...`` or ``stimuli/latents.npy``).
    out_dir : str or Path
        Where ``latents.npy`` (float32, [n_stimuli, dim]), ``stimuli.tsv`` (row order of the
        latents; the columns above) and ``info.json`` ({"name", "dim"}) are written; created
        if missing. A target that returns a :class:`~pipeline.targets.base.TargetOutput` also writes
        ``text_latents.npy`` (float32, [n_stimuli, text_dim]; info key ``text_dim``) and
        ``weights.safetensors`` (info key ``weights``: the tensor names), its training
        curves as ``history.csv``, and its own facts under ``info[<target name>]``.

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
    media = [column for column in MEDIA_COLUMNS if column in stimuli.columns]
    if not media:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: no column {' or '.join(MEDIA_COLUMNS)}; expected "
            "the path of each stimulus' image or audio, relative to the stimuli folder"
        )
    stimuli = stimuli.astype({"stimulus_id": str, "split": str, **dict.fromkeys(media, str)})
    stimuli["caption"] = stimuli["caption"].fillna("").astype(str)
    duplicated = stimuli["stimulus_id"][stimuli["stimulus_id"].duplicated()].tolist()
    if duplicated:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: stimulus ids {duplicated[:5]} appear more than "
            "once; expected one row per stimulus"
        )
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    output = TARGETS.get(cfg.name)(cfg, stimuli_dir, stimuli)
    if not isinstance(output, TargetOutput):
        output = TargetOutput(latents=output)
    latents = checked_rows(output.latents, len(stimuli), f"{stimuli_dir}: target {cfg.name!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "latents.npy", latents)
    write_tsv(stimuli[[*STIMULUS_COLUMNS[:2], *media, "caption"]], out_dir / "stimuli.tsv")
    info = {"name": cfg.name, "dim": int(latents.shape[1])}
    if output.text_latents is not None:
        text = checked_rows(output.text_latents, len(stimuli),
                            f"{stimuli_dir}: target {cfg.name!r} (text side)")
        np.save(out_dir / "text_latents.npy", text)
        info["text_dim"] = int(text.shape[1])
    if output.weights:
        save_file({key: np.ascontiguousarray(value) for key, value in output.weights.items()},
                  str(out_dir / "weights.safetensors"))
        info["weights"] = sorted(output.weights)
    if output.info:
        info[cfg.name] = output.info
    if output.curves:
        write_curves(output.curves, out_dir / "history.csv")
    write_json(info, out_dir / "info.json")
    logger.info("targets %s: %d stimuli x %d dims", cfg.name, len(stimuli), latents.shape[1])
    return {**info, "n_stimuli": len(stimuli)}


def checked_rows(array: np.ndarray, n_rows: int, source: str) -> np.ndarray:
    """Return ``array`` as float32 if it is finite with shape (n_rows, dim), else raise.

    Raises
    ------
    DataError
        Naming ``source``, the shape found and the shape expected.
    """
    array = np.asarray(array, dtype=np.float32)  # (n_rows, dim)
    finite = bool(np.isfinite(array).all())
    if array.ndim != 2 or array.shape[0] != n_rows or not finite:
        raise DataError(
            f"{source} gave latents of shape {array.shape} (finite: {finite}); expected "
            f"({n_rows}, dim), finite"
        )
    return array
