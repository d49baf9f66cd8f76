"""Image generators (each module registers itself on import)."""

from pipeline.generators.image import diffusion, sd_ip_adapter, stable_unclip  # noqa: F401
