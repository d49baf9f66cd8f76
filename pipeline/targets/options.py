"""``targets``: the latent space the encoders learn to predict."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from pipeline.config import Section, registered, validate_options

TargetName = Annotated[str, registered("pipeline.targets.base", "TARGETS")]


class TargetsConfig(Section):
    """``targets``: the latent space the encoder learns to predict."""

    section: ClassVar[str] = "targets"

    name: TargetName = "efficientnet_lite0"
    batch_size: int = Field(32, ge=1)
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    options: dict[str, dict[str, Any]] = Field(
        {}, description="options of each target, by name: joint (image-text space trained on "
        "the training stimuli), open_clip and dinov2 (models from a local folder); the "
        "Field descriptions of each target's options model document its keys"
    )

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.targets.base import options_model

        for name, options in value.items():
            validate_options(options_model(name), options, f"targets.options.{name}")
        return value

    def settings(self, name: str | None = None) -> Section:
        """Return the validated options of target ``name`` (default: the selected one)."""
        from pipeline.targets.base import options_model

        name = name or self.name
        return validate_options(
            options_model(name), self.options.get(name, {}), f"targets.options.{name}"
        )

