"""shape generators (each module registers itself)."""

from pipeline.generators.shape import parametric  # noqa: F401
