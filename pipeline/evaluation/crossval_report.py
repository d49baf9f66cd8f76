"""Accuracy per trial and per block with bootstrap CIs, confusion matrices, and their figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pipeline.evaluation.bootstrap import bootstrap_ci
from pipeline.evaluation.plots import COLOURS, _save

DIGITS = 6


def block_means(scores: np.ndarray, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average the trial scores of each block.

    Returns
    -------
    means : ndarray, shape (n_blocks, n_classes)
    first : ndarray of int, shape (n_blocks,)
        A trial of each block (to read its label and fold).
    """
    codes, first, inverse = np.unique(blocks, return_index=True, return_inverse=True)
    sums = np.zeros((len(codes), scores.shape[1]))  # (n_blocks, n_classes)
    np.add.at(sums, inverse, scores)
    return sums / np.bincount(inverse)[:, None], first


def _accuracy(correct: np.ndarray, groups: np.ndarray, cfg: Any) -> dict[str, Any]:
    """Mean accuracy and its percentile bootstrap CI, resampling ``groups``."""
    low, high = bootstrap_ci(correct.astype(np.float64), groups, cfg.n_bootstrap,
                             cfg.confidence, cfg.seed)
    return {"accuracy": round(float(correct.mean()), DIGITS),
            "ci": [round(low, DIGITS), round(high, DIGITS)], "n": int(len(correct))}


def model_entry(scores: np.ndarray, label: np.ndarray, fold: np.ndarray,
                blocks: np.ndarray | None, majority: float, cfg: Any) -> dict[str, Any]:
    """Score one model's held-out predictions.

    Parameters
    ----------
    scores : ndarray, shape (n_trials, n_classes)
        Class scores of every trial, from the fold that held it out.
    label : ndarray of int, shape (n_trials,)
        The true class.
    fold : ndarray of int, shape (n_trials,)
        The fold that held each trial out.
    blocks : ndarray of int, shape (n_trials,), or None
        The block of each trial; per-block accuracy when given.
    majority : float
        Accuracy of always answering the most frequent class (the chance to beat).
    cfg : CrossvalConfig
        Bootstrap size, confidence, seed.

    Returns
    -------
    dict
        ``trial`` (accuracy, ci, n; the CI resamples blocks when there are blocks, so
        correlated trials of a block are drawn together), ``block`` (the prediction of a
        block is the argmax of its trials' mean scores; CI over blocks) or None,
        ``fold_accuracy`` (per fold) and ``above_chance`` (the trial CI lies above
        ``majority``).
    """
    correct = scores.argmax(axis=1) == label  # (n_trials,)
    groups = np.arange(len(label)) if blocks is None else blocks
    entry: dict[str, Any] = {"trial": _accuracy(correct, groups, cfg), "block": None}
    if blocks is not None:
        means, first = block_means(scores, blocks)
        block_correct = means.argmax(axis=1) == label[first]
        entry["block"] = _accuracy(block_correct, np.arange(len(first)), cfg)
    entry["fold_accuracy"] = [round(float(correct[fold == index].mean()), DIGITS)
                              for index in np.unique(fold)]
    entry["above_chance"] = bool(entry["trial"]["ci"][0] > majority)
    return entry


def confusion(scores: np.ndarray, label: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class), shape (n_classes, n_classes)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (label, scores.argmax(axis=1)), 1)
    return matrix


def plot_confusions(matrices: dict[str, np.ndarray], classes: list[str], title: str,
                    path: Path, credit: str | None = None) -> None:
    """One row-normalised confusion matrix per model, side by side, counts annotated.

    ``credit`` (the data's attribution, see :func:`pipeline.provenance.credit_line`) is
    printed along the bottom of the figure.
    """
    figure = Figure(figsize=(3.6 * len(matrices) + 0.6, 4.4 + 0.15 * len(classes)))
    axes = figure.subplots(1, len(matrices), squeeze=False)[0]
    for axis, (name, matrix) in zip(axes, matrices.items(), strict=True):
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)  # (K, K)
        axis.imshow(rates, vmin=0, vmax=1, cmap="Blues", interpolation="nearest")
        for (row, column), count in np.ndenumerate(matrix):
            colour = "white" if rates[row, column] > 0.6 else "black"
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color=colour)
        ticks = np.arange(len(classes))
        axis.set_xticks(ticks, classes, rotation=60, ha="right", fontsize=7)
        axis.set_yticks(ticks, classes if axis is axes[0] else [], fontsize=7)
        axis.set_xlabel("predicted")
        axis.set_title(f"{name}: {np.trace(matrix) / max(matrix.sum(), 1):.2f}")
    axes[0].set_ylabel("true")
    figure.suptitle(title)
    _save(figure, path, credit)


def plot_accuracies(entries: dict[str, dict[str, Any]], chance: float, title: str,
                    path: Path, credit: str | None = None) -> None:
    """Bars of per-trial (and per-block) accuracy of every model, with CIs and chance.

    ``credit`` is printed along the bottom of the figure, as in :func:`plot_confusions`.
    """
    figure = Figure(figsize=(1.3 * len(entries) + 2.5, 4.0))
    axis = figure.subplots()
    width = 0.38
    for index, entry in enumerate(entries.values()):
        for offset, level, colour in ((-width / 2, "trial", COLOURS["decoder"]),
                                      (width / 2, "block", COLOURS["baseline"])):
            result = entry[level]
            if result is None:
                continue
            value, (low, high) = result["accuracy"], result["ci"]
            axis.bar(index + offset, value, width, yerr=[[value - low], [high - value]],
                     capsize=3, color=colour, label=level if index == 0 else None)
            axis.text(index + offset, high, f"{value:.2f}", ha="center", va="bottom", fontsize=7)
    axis.axhline(chance, color=COLOURS["chance"], linestyle="--", label="chance")
    axis.set_xticks(np.arange(len(entries)), list(entries))
    axis.set_ylim(0, 1.08)
    axis.set_ylabel("accuracy on held-out trials")
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title(title, fontsize=9)
    _save(figure, path, credit)
