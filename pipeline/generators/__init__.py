"""Generators: latents of the target space -> images, captions and 3D objects.

One registry per kind of output (``GENERATORS["image"]``, ``["text"]``, ``["shape"]``),
keyed by the name used in ``generators.<kind>.name``.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.registry import Registry

KINDS = ("image", "text", "shape")
GENERATORS: dict[str, Registry] = {
    "image": Registry("image generator", modules=(
        "pipeline.generators.image.diffusion",
        "pipeline.generators.image.sd_ip_adapter",
        "pipeline.generators.image.stable_unclip",
    )),
    "text": Registry("text generator", modules=(
        "pipeline.generators.text.gemma",
        "pipeline.generators.text.prefix_lm",
    )),
    "shape": Registry("shape generator", modules=("pipeline.generators.shape.parametric",)),
}  # one registry per kind of output; each imports its modules on first use


def register_generator(name: str) -> Callable[[type], type]:
    """Register a :class:`~pipeline.generators.base.Generator` subclass under its ``kind``."""

    def decorator(cls: type) -> type:
        return GENERATORS[cls.kind].register(name)(cls)

    return decorator
