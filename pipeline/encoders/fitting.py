"""What a fitter returns: the fitted model, its history and how it was selected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.encoders.model import ScaledEncoder


@dataclass(frozen=True)
class FitResult:
    """The outcome of one fit.

    Attributes
    ----------
    model : ScaledEncoder
        The selected weights (best validation score).
    history : DataFrame
        One row per epoch (or per regularisation value for closed-form fits).
    best_epoch : int or None
        The epoch whose weights were kept; None for closed-form fits.
    val_loss : float
        The validation score the selection minimised.
    details : dict
        Fitter-specific facts for ``train.json`` (temperature, alpha, ...).
    """

    model: ScaledEncoder
    history: pd.DataFrame
    best_epoch: int | None
    val_loss: float
    details: dict[str, Any] = field(default_factory=dict)
