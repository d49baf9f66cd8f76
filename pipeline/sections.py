"""The sections of ``params.yaml`` and the package that owns each one's model.

Stages import their own section model directly (so a stage depends only on the code it
runs); this catalogue serves what looks at the whole file: the ``brainrecon list``
command and the tests that validate the shipped params.
"""

from __future__ import annotations

import importlib

from pipeline.config import Section
from pipeline.errors import ParamsError, suggest

SECTIONS: dict[str, str] = {
    "study": "pipeline.studies.options:StudyConfig",
    "preprocess": "pipeline.preprocess.options:PreprocessConfig",
    "targets": "pipeline.targets.options:TargetsConfig",
    "baseline": "pipeline.encoders.options:BaselineConfig",
    "train": "pipeline.encoders.options:TrainConfig",
    "pretrain": "pipeline.pretrain.options:PretrainConfig",
    "evaluate": "pipeline.evaluation.options:EvaluateConfig",
    "generators": "pipeline.generators.options:GeneratorsConfig",
    "generate": "pipeline.generators.options:GenerateConfig",
    "export": "pipeline.serving.options:ExportConfig",
    "crossval": "pipeline.evaluation.crossval_options:CrossvalConfig",
}  # section name -> "module:model"


def section_model(name: str) -> type[Section]:
    """Return the model of section ``name``, importing its package's options module.

    Raises
    ------
    ParamsError
        If no section has that name; the message lists the sections and the closest one.
    """
    if name not in SECTIONS:
        raise ParamsError(f"unknown section {name!r}; expected one of {', '.join(SECTIONS)}"
                          f"{suggest(name, SECTIONS)}")
    module, model = SECTIONS[name].split(":")
    return getattr(importlib.import_module(module), model)
