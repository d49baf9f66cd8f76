"""Brain -> latent encoders: architectures, how each is fitted, saving and prediction.

``ENCODERS`` maps ``train.encoder.name`` to an architecture and ``FITTERS`` an encoder's
``fitter`` to how it is fitted; both import their modules on first use. Fitting, saving and
prediction live in :mod:`~pipeline.encoders.train`, :mod:`~pipeline.encoders.baseline`,
:mod:`~pipeline.encoders.model` and :mod:`~pipeline.encoders.predict`.
"""

from pipeline.registry import Registry

ENCODERS = Registry("encoder", modules=(
    "pipeline.encoders.conv",
    "pipeline.encoders.eegnet",
    "pipeline.encoders.mlp",
    "pipeline.encoders.patch_transformer",
    "pipeline.encoders.ridge",
    "pipeline.encoders.riemann",
    "pipeline.encoders.shallow",
    "pipeline.encoders.spoc",
))
FITTERS = Registry("fitter", modules=(
    "pipeline.encoders.fit_closed_form",
    "pipeline.encoders.fit_lightning",
))

__all__ = ["ENCODERS", "FITTERS"]
