"""Write generated outputs to disk and read them back, one writer and reader per kind.

Layout of one source directory (``data/generated/<study>/<source>/``):
``images/<stimulus_id>.png``; ``captions.tsv`` (stimulus_id, caption); ``shapes/``
with ``parameters.tsv``, ``points.npy`` (n, n_points, 3), ``occupancy.npy`` (n, r, r, r)
and ``meshes/<stimulus_id>.ply`` and ``.obj``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.errors import DataError
from pipeline.generators.base import ImageOutput, ShapeOutput, TextOutput
from pipeline.io import read_tsv, require_file, write_tsv
from pipeline.registry import Registry

Output = ImageOutput | TextOutput | ShapeOutput


@dataclass(frozen=True)
class OutputIO:
    """How one kind of output is written (``write(output, ids, directory)``) and read back
    (``read(ids, directory)``)."""

    write: Callable[[Output, list[str], Path], None]
    read: Callable[[list[str], Path], Output]


OUTPUT_IO: Registry[OutputIO] = Registry("output kind")


def _write_images(output: ImageOutput, ids: list[str], directory: Path) -> None:
    (directory / "images").mkdir(parents=True, exist_ok=True)
    for sid, image in zip(ids, output.images, strict=True):
        Image.fromarray(image).save(directory / "images" / f"{sid}.png")


def _read_images(ids: list[str], directory: Path) -> ImageOutput:
    images = []
    for sid in ids:
        path = require_file(directory / "images" / f"{sid}.png", "a generated image")
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return ImageOutput(np.stack(images))


def _write_captions(output: TextOutput, ids: list[str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_tsv(pd.DataFrame({"stimulus_id": ids, "caption": output.captions}),
              directory / "captions.tsv")


def _read_captions(ids: list[str], directory: Path) -> TextOutput:
    table = read_tsv(directory / "captions.tsv", required=("stimulus_id", "caption"))
    caption_of = dict(zip(table["stimulus_id"].astype(str),
                          table["caption"].fillna("").astype(str), strict=True))
    missing = [sid for sid in ids if sid not in caption_of]
    if missing:
        raise DataError(f"{directory / 'captions.tsv'}: no caption for {missing[:5]}; "
                        "expected one per generated stimulus")
    return TextOutput([caption_of[sid] for sid in ids])


def _write_shapes(output: ShapeOutput, ids: list[str], directory: Path) -> None:
    from pipeline.generators.shape.mesh import export_meshes

    shapes = directory / "shapes"
    shapes.mkdir(parents=True, exist_ok=True)
    write_tsv(output.parameters.assign(stimulus_id=ids), shapes / "parameters.tsv")
    np.save(shapes / "points.npy", output.points.astype(np.float32))
    np.save(shapes / "occupancy.npy", output.occupancy.astype(bool))
    export_meshes(output.parameters, ids, shapes / "meshes")


def _read_shapes(ids: list[str], directory: Path) -> ShapeOutput:
    shapes = directory / "shapes"
    parameters = read_tsv(shapes / "parameters.tsv", required=("stimulus_id",))
    if parameters["stimulus_id"].astype(str).tolist() != list(ids):
        raise DataError(f"{shapes / 'parameters.tsv'}: stimulus ids differ from the generated "
                        "stimuli's; expected the same rows in the same order")
    points = np.load(require_file(shapes / "points.npy", "generated surface points"))
    occupancy = np.load(require_file(shapes / "occupancy.npy", "generated occupancy grids"))
    return ShapeOutput(parameters.drop(columns="stimulus_id"), points, occupancy)


OUTPUT_IO.register("image")(OutputIO(_write_images, _read_images))
OUTPUT_IO.register("text")(OutputIO(_write_captions, _read_captions))
OUTPUT_IO.register("shape")(OutputIO(_write_shapes, _read_shapes))
