"""Target latent spaces: what the encoder learns to predict for each stimulus."""

from pipeline.registry import Registry

TARGETS = Registry("target")

# modules register themselves
from pipeline.targets import (  # noqa: E402, F401
    dinov2,
    efficientnet,
    joint,
    mel,
    minilm,
    open_clip_target,
    resemblyzer_target,
    simulator,
    whisper_tiny,
)
from pipeline.targets.compute import compute_targets  # noqa: E402

__all__ = ["TARGETS", "compute_targets"]
