"""The reconstruction sheet: stimulus | images | caption | 3D view, one row per test stimulus."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.evaluation.plots import _save
from pipeline.generators.base import ImageOutput, ShapeOutput, StimulusSet, TextOutput

Output = ImageOutput | TextOutput | ShapeOutput
VIEW_SIZE = 64  # pixels of the rendered 3D view
CAPTION_WIDTH = 34  # characters per line of a caption cell


def _image_cell(axis, image: np.ndarray, title: str) -> None:
    axis.imshow(image, interpolation="nearest")
    axis.set_title(title, fontsize=7)
    axis.set_axis_off()


def _caption_cell(axis, generated: str, true: str) -> None:
    axis.set_axis_off()
    axis.text(0.0, 0.95, textwrap.fill(generated, CAPTION_WIDTH), fontsize=6.5, va="top",
              color="#1f3d7a", transform=axis.transAxes)
    axis.text(0.0, 0.35, textwrap.fill(f"true: {true}", CAPTION_WIDTH), fontsize=5.5,
              va="top", color="#555555", transform=axis.transAxes)


def plot_sheet(test: StimulusSet, outputs: Mapping[str, Mapping[str, Output]], rows: int,
               path: Path, credit: str | None = None) -> None:
    """Draw the first ``rows`` test stimuli with what was generated for them.

    Columns: the stimulus image; the image generated from the decoder's latent and from the
    true latent (the ceiling); the decoder's caption (the true one below it); a view of the 3D
    object decoded from the brain. Kinds that were not generated are left out, and so is the
    stimulus column for stimuli without images (speech: the caption cell names the stimulus).

    Parameters
    ----------
    test : StimulusSet
        The test stimuli, in generation order.
    outputs : mapping
        Kind -> source -> outputs (row ``i`` for stimulus ``i``).
    rows : int
        Number of stimuli shown.
    path : Path
        The PNG written.
    credit : str, optional
        The data's attribution, printed along the bottom.
    """
    n = min(rows, len(test))
    images = outputs.get("image", {})
    captions = outputs.get("text", {}).get("decoder")
    shapes = outputs.get("shape", {}).get("decoder")
    shown = "image" in test.table.columns
    columns = ["stimulus"] if shown else []
    columns += [f"image: {s}" for s in ("decoder", "ceiling") if s in images]
    columns += ["caption: decoder"] if captions is not None else []
    columns += ["3D: decoder"] if shapes is not None else []
    widths = [2.6 if name.startswith("caption") else 1.0 for name in columns]
    figure = Figure(figsize=(1.25 * sum(widths), 1.3 * n + 0.4))
    grid = figure.add_gridspec(n, len(columns), width_ratios=widths)
    stimulus_images = test.images(VIEW_SIZE) if shown else None
    views = _shape_views(shapes, n) if shapes is not None else None
    for row in range(n):
        sid = test.table["stimulus_id"].iloc[row]
        for col, name in enumerate(columns):
            axis = figure.add_subplot(grid[row, col])
            title = name if row == 0 else ""
            named = f"{title}\n{sid}" if title else sid  # a title that names the stimulus
            if name == "stimulus":
                _image_cell(axis, stimulus_images[row], named)
            elif name.startswith("image"):
                _image_cell(axis, images[name.split(": ")[1]].images[row], title)
            elif name.startswith("caption"):
                _caption_cell(axis, captions.captions[row], test.table["caption"].iloc[row])
                axis.set_title(title if shown else named, fontsize=7)
            else:
                _image_cell(axis, views[row], title)
    _save(figure, path, credit)


def _shape_views(shapes: ShapeOutput, n: int) -> np.ndarray:
    """Render the first ``n`` decoded objects at their decoded pose, on a white background."""
    from pipeline.generators.shape.views import render_views

    return render_views(shapes.parameters.iloc[:n], (0.0,), VIEW_SIZE)[:, 0]
