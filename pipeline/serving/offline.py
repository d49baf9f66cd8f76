"""Offline evaluation of a bundle on held-out recordings: the evaluate stage's metrics.

The recordings are a preprocessed folder (stage contract 2, preprocessed as the bundle's
study was) or a BIDS root, which is preprocessed here with the bundle's own steps. Their test
trials are decoded by the bundle's encoder and its baseline, and scored against the target
latents of their stimuli (the bundle's gallery unless another targets folder is given).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipeline.encoders.predict import predict_latents
from pipeline.errors import DataError
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.serving.bundle import Bundle

logger = logging.getLogger(__name__)

BIDS_DESCRIPTION = "dataset_description.json"
OUTPUTS = ("evaluate.json", "topk.csv", "plots")  # what an offline evaluation writes


def _publish(staged: Path, out_dir: Path) -> None:
    """Move the outputs written in ``staged`` into ``out_dir``, replacing earlier ones.

    ``staged`` sits inside ``out_dir`` (same file system), so each move is a rename; other
    files of ``out_dir`` are left alone.
    """
    for name in OUTPUTS:
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(staged / name, target)


def _preprocessed(bundle: Bundle, data: Path, scratch: Path) -> Path:
    """``data`` if it is preprocessed; a BIDS root preprocessed with the bundle's steps."""
    if (data / "info.json").is_file():
        return data
    if not (data / BIDS_DESCRIPTION).is_file():
        raise DataError(f"{data}: neither a preprocessed folder (info.json, epochs.npy or "
                        f"betas.npy, trials.tsv) nor a BIDS root ({BIDS_DESCRIPTION})")
    logger.info("preprocessing %s with the steps of bundle %r", data, bundle.name)
    out = scratch / "preprocessed"
    out.mkdir()
    preprocess_study(PreprocessConfig.model_validate(bundle.manifest["preprocess"]), data, out)
    return out


def evaluate_bundle(bundle: Bundle, data: str | Path, out_dir: str | Path,
                    cfg: EvaluateConfig | None = None, targets: str | Path | None = None
                    ) -> dict[str, Any]:
    """Score ``bundle`` on the test trials of ``data``; write the evaluate stage's outputs.

    Parameters
    ----------
    bundle : Bundle
        A loaded bundle with a baseline (``export.baseline: true``).
    data : str or Path
        A preprocessed folder or a BIDS root.
    out_dir : str or Path
        Receives ``evaluate.json``, ``topk.csv`` and ``plots/``, all three only once every
        one is written (a failure leaves the folder as it was).
    cfg : EvaluateConfig, optional
        Metrics, averaging and bootstrap settings; None: the study's own, as the bundle
        carries them (the section's defaults for a bundle exported without them).
    targets : str or Path, optional
        Target latents of the data's stimuli (contract 3); default: the bundle's gallery.

    Returns
    -------
    dict
        The metrics, as in ``evaluate.json``, with ``bundle`` and ``data`` added.

    Raises
    ------
    DataError
        If the data do not match the encoder (channels, window) or have no test trial, or
        the bundle has no baseline.
    """
    if bundle.baseline is None:
        raise DataError(f"{bundle.root}: the bundle carries no baseline; export it with "
                        "export.baseline: true to score it offline beside the decoder")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = Path(targets) if targets is not None else bundle.root / "gallery"
    with tempfile.TemporaryDirectory(prefix="brainrecon-evaluate-") as scratch, \
            tempfile.TemporaryDirectory(prefix=".evaluate-", dir=out_dir) as staging:
        scratch_dir, staged = Path(scratch), Path(staging)
        preprocessed = _preprocessed(bundle, Path(data), scratch_dir)
        for model in ("encoder", "baseline"):
            predict_latents(bundle.root / model, preprocessed, scratch_dir / model, ("test",))
        cfg = cfg or EvaluateConfig.model_validate(bundle.manifest.get("evaluate", {}))
        results = evaluate(cfg, scratch_dir / "encoder", scratch_dir / "baseline", targets,
                           None, *(staged / name for name in OUTPUTS))
        _publish(staged, out_dir)
    return {"bundle": bundle.name, "data": str(data), **results}
