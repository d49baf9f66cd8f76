"""Brain -> latent encoders: architectures, how each is fitted, saving and prediction."""

from pipeline.registry import Registry

ENCODERS = Registry("encoder")
FITTERS = Registry("fitter")

from pipeline.encoders import (  # noqa: E402, F401  (modules register themselves)
    conv,
    eegnet,
    fit_closed_form,
    fit_lightning,
    mlp,
    patch_transformer,
    ridge,
    riemann,
    shallow,
)
from pipeline.encoders.baseline import fit_baseline  # noqa: E402
from pipeline.encoders.model import load_encoder  # noqa: E402
from pipeline.encoders.predict import predict_latents  # noqa: E402
from pipeline.encoders.train import fit_encoder  # noqa: E402

__all__ = [
    "ENCODERS",
    "FITTERS",
    "fit_baseline",
    "fit_encoder",
    "load_encoder",
    "predict_latents",
]
