"""Image generators (each module registers itself on import)."""

from pipeline.generators.image import diffusion, stable_unclip  # noqa: F401
