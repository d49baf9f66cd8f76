"""``pretrain``: self-supervised pretraining of the patch transformer."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import Section, registered

PretrainingMethod = Annotated[str, registered("pipeline.pretrain", "PRETRAINERS")]


class CodebookConfig(Section):
    """``pretrain.codebook``: the vector-quantised tokenizer of masked-codebook pretraining."""

    size: int = Field(64, ge=1, description="codes in the codebook")
    dim: int = Field(16, ge=1, description="width of a code")
    hidden: int = Field(128, ge=1, description="hidden width of the tokenizer's MLPs")
    ema_decay: float = Field(0.99, gt=0, lt=1, description="EMA decay of the codebook updates")
    dead_code_threshold: float = Field(
        1.0, ge=0, description="a code whose EMA count of assigned patches per batch falls "
        "below this is restarted from a recent encoder output (0: never)"
    )
    commitment: float = Field(0.25, ge=0, description="weight of the commitment loss")
    collapse_perplexity: float = Field(
        4.0, gt=0, description="a final codebook perplexity below this is reported as collapsed"
    )

    @model_validator(mode="after")
    def _reachable(self) -> CodebookConfig:
        if self.collapse_perplexity > self.size:
            raise ValueError(
                f"got collapse_perplexity={self.collapse_perplexity} with size={self.size}; "
                "expected at most size (the largest perplexity a codebook can reach)"
            )
        return self


class PretrainConfig(Section):
    """``pretrain``: self-supervised pretraining of the patch_transformer backbone.

    The backbone's options are ``train.encoder.options.patch_transformer``; labels are
    never read, and only the trials of ``splits`` are.
    """

    section: ClassVar[str] = "pretrain"

    method: PretrainingMethod = Field(
        "none", description="none | codebook | mae (pipeline.pretrain)")
    seed: int = 0
    splits: list[str] = Field(["train", "val"], min_length=1,
                              description="trials.tsv splits whose epochs are used")
    tokenizer_epochs: int = Field(10, ge=1, description="codebook: epochs of the tokenizer")
    epochs: int = Field(10, ge=1, description="epochs of masked prediction (codebook, mae)")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(64, ge=2)
    mask_ratio: float = Field(0.5, gt=0, lt=1, description="fraction of time patches masked")
    codebook: CodebookConfig = CodebookConfig()
    accelerator: Literal["cpu", "gpu", "auto"] = "cpu"
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")

    @field_validator("splits")
    @classmethod
    def _never_test(cls, value: list[str]) -> list[str]:
        wrong = [split for split in value if split not in ("train", "val")]
        if wrong:
            raise ValueError(f"got {wrong}; expected train and/or val (pretraining never reads "
                             "test trials)")
        return value

