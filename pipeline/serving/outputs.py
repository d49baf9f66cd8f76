"""Generated outputs as JSON for the HTTP app: one encoder per output kind."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from pipeline.generators.base import ImageOutput, ShapeOutput, TextOutput
from pipeline.generators.shape.views import render_views

SHAPE_VIEW_SIZE = 128


def png_base64(image: np.ndarray) -> str:
    """A (H, W, 3) uint8 image as base64 PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(output: ImageOutput) -> dict[str, Any]:
    return {"png_base64": png_base64(output.images[0])}


def _text(output: TextOutput) -> dict[str, Any]:
    return {"caption": output.captions[0]}


def _shape(output: ShapeOutput) -> dict[str, Any]:
    parameters = output.parameters.iloc[:1]
    view = render_views(parameters, image_size=SHAPE_VIEW_SIZE)[0, 0]  # (S, S, 3)
    row = {key: (value.item() if isinstance(value, np.generic) else value)
           for key, value in parameters.iloc[0].to_dict().items()}
    return {"parameters": row, "png_base64": png_base64(view)}


OUTPUT_JSON: dict[str, Callable[[Any], dict[str, Any]]] = {
    "image": _image, "text": _text, "shape": _shape,
}  # kind -> the JSON fields of its first output
