"""Target latent spaces: what the encoder learns to predict for each stimulus."""

from pipeline.registry import Registry

TARGETS = Registry("target")

from pipeline.targets import efficientnet, minilm, simulator  # noqa: E402, F401  (modules register themselves)
from pipeline.targets.compute import compute_targets  # noqa: E402

__all__ = ["TARGETS", "compute_targets"]
