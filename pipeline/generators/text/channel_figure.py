"""The figure of the channel-caption report: layout, top stimuli and caption of each group."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.generators.base import StimulusSet, read_image
from pipeline.io import PNG_METADATA
from pipeline.provenance import draw_credit

THUMBNAIL = 64  # pixels
ROW_INCHES = 1.1


def plot_channel_captions(table: pd.DataFrame, labels: np.ndarray, positions: np.ndarray,
                          stimuli: StimulusSet, path: Path, credit: str | None = None) -> None:
    """Draw each group as a row: its channels on the layout, its top stimuli, its caption.

    The layout is the channels' x and y (seen from above), the group in red; thumbnails are
    drawn when the stimuli have images; the caption is followed by the shared words.

    Parameters
    ----------
    table : DataFrame
        From :func:`~pipeline.generators.text.channel_captions.describe_channel_groups`.
    labels : ndarray of int, shape (n_chans,)
        The group of each channel.
    positions : ndarray, shape (n_chans, 3)
        Channel positions; x and y are drawn.
    stimuli : StimulusSet
        The stimuli, for the thumbnails.
    path : Path
        The PNG to write.
    credit : str, optional
        The data's attribution, printed along the bottom.
    """
    top = [ids.split(",") for ids in table["top_stimuli"]]
    n_thumbs = max(len(ids) for ids in top) if "image" in stimuli.table else 0
    images = dict(zip(stimuli.table["stimulus_id"].astype(str),
                      stimuli.table.get("image", pd.Series(dtype=str)), strict=False))
    n_cols = 2 + n_thumbs
    fig = Figure(figsize=(ROW_INCHES * (1 + n_thumbs) + 4.0, ROW_INCHES * len(table)))
    ratios = [1] * (1 + n_thumbs) + [4.0 / ROW_INCHES]
    axes = fig.subplots(len(table), n_cols, gridspec_kw={"width_ratios": ratios}, squeeze=False)
    for row, (axes_row, record) in enumerate(zip(axes, table.itertuples(), strict=True)):
        layout = axes_row[0]
        inside = labels == record.group
        layout.scatter(*positions[~inside, :2].T, s=3, c="0.75")
        layout.scatter(*positions[inside, :2].T, s=6, c="tab:red")
        layout.set_aspect("equal")
        layout.set_title(f"group {record.group} ({record.n_channels})", fontsize=7)
        for column, stimulus in enumerate(top[row][:n_thumbs], start=1):
            axes_row[column].imshow(read_image(stimuli.root / images[stimulus], THUMBNAIL))
            axes_row[column].set_title(stimulus, fontsize=6)
        text = [textwrap.fill(record.caption, 60),
                textwrap.fill(f"shared: {record.shared_words or '(none)'}", 60)]
        axes_row[-1].text(0, 0.5, "\n".join(text), fontsize=7, va="center")
        for ax in axes_row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
    fig.tight_layout()
    draw_credit(fig, credit)
    fig.savefig(path, dpi=80, metadata=PNG_METADATA)
