"""PNG figures of an evaluation, drawn with matplotlib's Agg canvas (no display, no browser)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.evaluation.retrieval import RetrievalScores
from pipeline.io import PNG_METADATA, atomic_output_file
from pipeline.provenance import draw_credit

MODELS = ("decoder", "baseline", "oracle")
COLOURS = {"decoder": "#1f77b4", "baseline": "#ff7f0e", "oracle": "#2ca02c", "chance": "#555555"}
DPI = 120


def _save(figure: Figure, path: Path, credit: str | None = None) -> None:
    """Render ``figure`` to ``path`` as PNG, atomically, with ``credit`` along its bottom."""
    FigureCanvasAgg(figure)
    figure.tight_layout()
    draw_credit(figure, credit)
    with atomic_output_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, metadata=PNG_METADATA)


def plot_retrieval(entries: Mapping[str, Mapping[str, Any]], title: str, path: Path,
                   credit: str | None = None) -> None:
    """Bars of decoder, baseline and oracle per metric, with CI error bars and chance.

    Parameters
    ----------
    entries : mapping
        Metric key -> its results (``decoder``, ``decoder_ci``, ..., ``chance``); a model
        whose value is None is drawn as "n/a".
    title : str
        The figure title.
    path : Path
        The PNG to write.
    credit : str, optional
        The data's attribution (:func:`pipeline.provenance.credit_line`), printed along the
        bottom; so for every figure below.
    """
    figure = Figure(figsize=(3.2 * max(len(entries), 1) + 0.8, 4.2))
    axes = figure.subplots(1, max(len(entries), 1), squeeze=False)[0]
    positions = np.arange(len(MODELS))
    for axis, (key, entry) in zip(axes, entries.items(), strict=False):
        for position, model in zip(positions, MODELS, strict=True):
            value, ci = entry[model], entry[f"{model}_ci"]
            if value is None:
                axis.text(position, 0, "n/a", ha="center", va="bottom", color="grey")
                continue
            error = np.array([[value - ci[0]], [ci[1] - value]])  # (2, 1)
            axis.bar(position, value, 0.7, yerr=error, capsize=4, color=COLOURS[model])
            axis.text(position, ci[1], f"{value:.2f}", ha="center", va="bottom", fontsize=8)
        axis.axhline(entry["chance"], color=COLOURS["chance"], linestyle="--", label="chance")
        axis.set_xticks(positions, MODELS)
        axis.set_title(key)
        axis.set_ylim(0, 1.12 * max(axis.get_ylim()[1], entry["chance"]))
    axes[0].set_ylabel("mean over queries")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="upper right", frameon=False)
    figure.suptitle(title)
    _save(figure, path, credit)


def plot_topk(table: pd.DataFrame, title: str, path: Path, credit: str | None = None) -> None:
    """Top-k accuracy curves (k = 1..gallery size) of every model and of chance.

    Parameters
    ----------
    table : DataFrame
        Columns k, decoder, baseline, oracle (may be all missing), chance.
    title : str
        The figure title.
    path : Path
        The PNG to write.
    """
    figure = Figure(figsize=(5.5, 4.2))
    axis = figure.subplots()
    for column in (*MODELS, "chance"):
        if table[column].notna().any():
            style = "--" if column == "chance" else "-"
            axis.plot(table["k"], table[column], style, color=COLOURS[column], label=column)
    axis.set_xlabel("k")
    axis.set_ylabel("top-k accuracy")
    axis.set_ylim(0, 1.02)
    axis.set_title(title)
    axis.legend(loc="lower right")
    _save(figure, path, credit)


def plot_similarity(retrieval: RetrievalScores, title: str, path: Path,
                    credit: str | None = None) -> None:
    """Heat map of the score matrix, queries sorted by their true stimulus.

    Parameters
    ----------
    retrieval : RetrievalScores
        The decoder's scores.
    title : str
        The figure title.
    path : Path
        The PNG to write.
    """
    order = np.argsort(retrieval.true_index, kind="stable")  # (n_query,)
    figure = Figure(figsize=(6, 5))
    axis = figure.subplots()
    image = axis.imshow(
        retrieval.scores[order], aspect="auto", interpolation="nearest", cmap="viridis"
    )
    figure.colorbar(image, ax=axis, label="score")
    axis.set_xlabel(f"gallery stimulus ({len(retrieval.gallery)}, sorted by id)")
    axis.set_ylabel(f"query ({retrieval.n_queries}, sorted by true stimulus)")
    axis.set_title(title)
    _save(figure, path, credit)


def plot_words(table: pd.DataFrame, k: int, chance: float, title: str, path: Path,
               n_labels: int = 12, credit: str | None = None) -> None:
    """Each test word's top-k accuracy against the number of test stimuli holding it.

    Parameters
    ----------
    table : DataFrame
        Columns word, n_stimuli and one per model (decoder, baseline, oracle; missing ones
        are skipped), as :func:`pipeline.evaluation.words.word_table` returns.
    k : int
    chance : float
        The mean chance level over queries, drawn as a dashed line.
    title : str
    path : Path
        The PNG to write.
    n_labels : int
        The most frequent words are named on the decoder's points.
    """
    figure = Figure(figsize=(6.5, 4.5))
    axis = figure.subplots()
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(table))  # (n_words,)
    for model in MODELS:
        if model in table.columns:
            axis.scatter(table["n_stimuli"] * np.exp(jitter), table[model], s=12, alpha=0.6,
                         color=COLOURS[model], label=model)
    for _, row in table.head(n_labels).iterrows():
        axis.annotate(row["word"], (row["n_stimuli"], row["decoder"]), fontsize=7,
                      xytext=(3, 3), textcoords="offset points")
    axis.axhline(chance, color=COLOURS["chance"], linestyle="--", label="chance (mean)")
    axis.set_xscale("log")
    axis.set_xlabel("test stimuli holding the word")
    axis.set_ylabel(f"word top-{k} accuracy")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8)
    _save(figure, path, credit)
