"""``train`` and ``baseline``: the encoder, its loss and how it is fitted."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import Section, registered

EncoderName = Annotated[str, registered("pipeline.encoders", "ENCODERS")]


class LossConfig(Section):
    """``train.loss``: a weighted sum of registered loss terms (``pipeline.encoders.losses``)."""

    weights: dict[str, float] = Field(
        {"clip": 1.0}, description="loss name (clip | siglip | mse) -> weight; 0 leaves it out"
    )
    temperature: float = Field(0.1, gt=0, description="initial temperature of clip and siglip, "
                               "learnable")
    siglip_bias: float = Field(-10.0, description="initial logit bias of siglip, learnable")

    @field_validator("weights")
    @classmethod
    def _known_losses(cls, value: dict[str, float]) -> dict[str, float]:
        from pipeline.encoders.losses import LOSSES

        for name in value:
            LOSSES.get(name)
        if any(weight < 0 for weight in value.values()) or not any(value.values()):
            raise ValueError(f"got {value}; expected weights >= 0, at least one of them > 0")
        return value


class EncoderConfig(Section):
    """The encoder to train, and the options of every encoder (keyed by name)."""

    name: EncoderName = "conv"
    options: dict[str, dict[str, Any]] = {}

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.encoders import ENCODERS

        for name, options in value.items():
            ENCODERS.get(name).parse_options(options)
        return value

    def kwargs(self, name: str | None = None) -> dict[str, Any]:
        """Return the options of encoder ``name`` (default: the selected one)."""
        return dict(self.options.get(name or self.name, {}))


class TrainConfig(Section):
    """``train``: the brain -> latent encoder and how it is fitted (Lightning)."""

    section: ClassVar[str] = "train"

    seed: int = 0
    encoder: EncoderConfig = EncoderConfig()
    loss: LossConfig = LossConfig()
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(64, ge=2, description="global batch, split evenly across processes")
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(8, ge=1, description="early stopping on validation loss")
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"
    strategy: str = Field("auto", description="a Lightning strategy: auto | ddp | ddp_spawn | "
                          "fsdp | deepspeed | ... (lightning.pytorch.strategies.StrategyRegistry)")
    devices: int | Literal["auto"] = Field(
        1, description="processes (devices) per node; auto: every device of the accelerator")
    num_nodes: int = Field(1, ge=1)
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"] = "32-true"
    sync_batchnorm: bool = Field(True, description="batch norm statistics over the global batch "
                                 "when more than one process trains")
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    rescale_predictions: bool = Field(
        True,
        description="give each predicted latent the norm of a real (standardised) latent "
        "before mapping it back to the target space; a contrastive loss fixes only its direction",
    )
    init: Literal["scratch", "pretrained"] = Field(
        "scratch", description="pretrained: start the patch_transformer from the pretrain "
        "stage's backbone (train --pretrained DIR)"
    )
    freeze_pretrained: bool = Field(
        False, description="with init pretrained, train only the head (the backbone is frozen)"
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _positive_or_auto(cls, value: Any) -> Any:
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"got {value!r}; expected a positive integer or auto")
        return value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from lightning.pytorch.strategies import StrategyRegistry

        known = ["auto", *StrategyRegistry.available_strategies()]
        if value not in known:
            raise ValueError(f"unknown strategy {value!r}; expected one of {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _batch_splits_evenly(self) -> TrainConfig:
        if self.devices != "auto" and self.batch_size % (self.devices * self.num_nodes):
            raise ValueError(
                f"got batch_size={self.batch_size} for devices={self.devices} x num_nodes="
                f"{self.num_nodes} processes; expected a multiple of the number of processes"
            )
        return self


class BaselineConfig(Section):
    """``baseline``: the linear encoder every score is reported beside."""

    section: ClassVar[str] = "baseline"

    encoder: EncoderName = "ridge"
    options: dict[str, Any] = {}

    @model_validator(mode="after")
    def _known_options(self) -> BaselineConfig:
        from pipeline.encoders import ENCODERS

        ENCODERS.get(self.encoder).parse_options(self.options)
        return self

