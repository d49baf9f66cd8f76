"""text generators (each module registers itself)."""

from pipeline.generators.text import gemma, prefix_lm  # noqa: F401  (register)
