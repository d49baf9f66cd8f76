"""Fit encoders that solve for their weights directly (``fit_method = "closed_form"``)."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.encoders import FITTERS
from pipeline.encoders.datamodule import EncoderData
from pipeline.encoders.fitting import FitResult
from pipeline.encoders.model import ScaledEncoder
from pipeline.encoders.options import TrainConfig
from pipeline.lightning_runs import RunCheckpoints

logger = logging.getLogger(__name__)


@FITTERS.register("closed_form")
def fit_closed_form(
    model: ScaledEncoder,
    data: EncoderData,
    cfg: TrainConfig,
    out_dir: Path,
    checkpoints: RunCheckpoints | None = None,
    curves: Path | None = None,
) -> FitResult:
    """Call ``model.encoder.fit_closed_form(train, val)`` on the in-memory splits.

    Parameters
    ----------
    model : ScaledEncoder
        Its encoder must have ``fit_closed_form(train, val) -> (history, selected)``.
    data : EncoderData
        Train and validation trials (the test split is not read).
    cfg : TrainConfig
        Unused by closed-form fits; every fitter takes the same arguments.
    out_dir : Path
        Unused by closed-form fits.
    checkpoints : RunCheckpoints, optional
        Unused: a closed-form fit has no epochs to resume.
    curves : Path, optional
        Unused: a closed-form fit has no epochs; ``fit_encoder`` writes its one-row curves.

    Returns
    -------
    FitResult
    """
    history, selected = model.encoder.fit_closed_form(data.arrays("train"), data.arrays("val"))
    logger.info("closed-form fit: %s", ", ".join(f"{k} {v}" for k, v in selected.items()))
    details = {key: value for key, value in selected.items() if key != "val_loss"}
    return FitResult(
        model=model,
        history=history,
        best_epoch=None,
        val_loss=selected["val_loss"],
        details=details,
    )
