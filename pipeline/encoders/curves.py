"""Training curves: one row per epoch (train and validation loss, validation top-1).

The train stage writes them as a DVC plots file (``metrics/<study>/training.csv``, rendered
by ``dvc plots show`` with the ``training_curves`` template of ``.dvc/plots``) and as a PNG
beside it, drawn with matplotlib's Agg canvas (no display, no browser, no network).

A Lightning run rewrites the CSV after every validation epoch (:class:`CurvesCallback`),
from the module's history: a checkpoint carries that history, so after a resumed run the
file still holds every epoch once. A closed-form fit has no epochs: its file is one row,
epoch 0, with the selected fit's validation top-1 and no losses (the Lightning criterion is
not what it minimised; its own selection scores are in ``history.csv`` and ``train.json``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.io import atomic_output_file
from pipeline.provenance import draw_credit

CURVE_COLUMNS = ["epoch", "train_loss", "val_loss", "val_top1"]
COLOURS = {"train_loss": "#1f77b4", "val_loss": "#ff7f0e", "val_top1": "#2ca02c",
           "chance": "#555555", "best": "#999999"}
DPI = 120


def curve_table(rows: pd.DataFrame | Iterable[Mapping[str, float]]) -> pd.DataFrame:
    """The ``CURVE_COLUMNS`` of ``rows`` (one per epoch), missing values as NaN."""
    table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    table = table.reindex(columns=CURVE_COLUMNS)
    return table.astype({"epoch": "int64"}) if len(table) else table


def closed_form_curves(val_top1: float) -> pd.DataFrame:
    """The one-row curves of a closed-form fit: epoch 0, its validation top-1, no losses."""
    return curve_table([{"epoch": 0, "train_loss": math.nan, "val_loss": math.nan,
                         "val_top1": val_top1}])


def write_curves(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` to ``path`` as CSV, atomically (a reader never sees half a file)."""
    with atomic_output_file(path) as tmp:
        curve_table(table).to_csv(tmp, index=False)


def plot_curves(
    table: pd.DataFrame,
    path: str | Path,
    title: str,
    chance: float | None = None,
    best_epoch: int | None = None,
    credit: str | None = None,
) -> None:
    """Losses (left) and validation top-1 (right) against the epoch, as a PNG.

    Parameters
    ----------
    table : DataFrame
        ``CURVE_COLUMNS``; NaN values are not drawn.
    path : str or Path
        The PNG to write (atomically).
    title : str
        The figure title.
    chance : float, optional
        Chance top-1, drawn as a dashed line.
    best_epoch : int, optional
        The epoch whose weights were kept, drawn as a dotted vertical line.
    credit : str, optional
        The data's attribution, printed along the bottom.
    """
    table = curve_table(table)
    marker = "o" if len(table) <= 20 else None
    figure = Figure(figsize=(9.0, 3.6))
    loss_axis, top1_axis = figure.subplots(1, 2)
    for column, label in (("train_loss", "train loss"), ("val_loss", "validation loss")):
        if table[column].notna().any():
            loss_axis.plot(table["epoch"], table[column], marker=marker, markersize=3,
                           color=COLOURS[column], label=label)
    if not table[["train_loss", "val_loss"]].notna().any().any():
        loss_axis.text(0.5, 0.5, "no losses (closed-form fit)", ha="center", va="center",
                       color="grey", transform=loss_axis.transAxes)
        loss_axis.set_yticks([])
    loss_axis.set_ylabel("loss")
    top1_axis.plot(table["epoch"], table["val_top1"], marker=marker, markersize=3,
                   color=COLOURS["val_top1"], label="validation top-1")
    if chance is not None:
        top1_axis.axhline(chance, color=COLOURS["chance"], linestyle="--", label="chance")
    top1_axis.set_ylim(0, 1)
    top1_axis.set_ylabel("top-1 retrieval")
    for axis in (loss_axis, top1_axis):
        if best_epoch is not None:
            axis.axvline(best_epoch, color=COLOURS["best"], linestyle=":", label="kept epoch")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(table) == 1:  # a closed-form fit: one point, at epoch 0
            epoch = int(table["epoch"].iloc[0])
            axis.set_xlim(epoch - 1, epoch + 1)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(frameon=False, fontsize=8)
    figure.suptitle(title)
    FigureCanvasAgg(figure)
    figure.tight_layout()
    draw_credit(figure, credit)
    with atomic_output_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)


class CurvesCallback(pl.Callback):
    """Rewrite the curves CSV from ``pl_module.history`` after every validation epoch.

    Only the global rank 0 process writes. The history comes from the module (restored from
    the checkpoint on resume), so the file holds each epoch once, up to the last one run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        history = getattr(pl_module, "history", None)
        if trainer.sanity_checking or not trainer.is_global_zero or not history:
            return
        write_curves(curve_table(history), self.path)
