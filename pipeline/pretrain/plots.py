"""The codebook-usage figure of masked-codebook pretraining (matplotlib's Agg canvas)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.io import PNG_METADATA

DPI = 120


def plot_codebook_usage(counts: np.ndarray, perplexity: float, collapsed: bool,
                        path: Path) -> None:
    """Bars of the share of patches each code takes, most used first.

    Parameters
    ----------
    counts : ndarray of int, shape (K,)
        Patches assigned to each code.
    perplexity : float
        The codebook perplexity (shown in the title, beside the uniform maximum K).
    collapsed : bool
        Whether the codebook was found collapsed (said in the title).
    path : Path
        The PNG to write.
    """
    counts = np.asarray(counts, dtype=np.float64)
    share = np.sort(counts)[::-1] / max(counts.sum(), 1.0)  # (K,)
    figure = Figure(figsize=(6, 3))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(np.arange(len(share)), share, width=1.0, color="#1f77b4")
    axes.axhline(1 / len(share), color="#555555", linestyle="--", label="uniform")
    axes.set_xlabel("code (most used first)")
    axes.set_ylabel("share of patches")
    state = "COLLAPSED, " if collapsed else ""
    axes.set_title(
        f"Codebook usage: {state}perplexity {perplexity:.1f} of {len(share)}, "
        f"{int((counts > 0).sum())} codes used", fontsize=9,
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
