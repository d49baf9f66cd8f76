"""``crossval``: cross-validated classification of a class-level study, beside baselines."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import Section, validate_options
from pipeline.encoders.options import TrainConfig


class CrossvalConfig(Section):
    """``crossval``: cross-validated classification of a class-level study, beside baselines.

    Folds are by run or subject (leave one out) or stratified; in each fold every encoder is fitted
    on the training trials into the class latents and classifies the held-out trials by the
    nearest class latent (cosine), beside the baseline classifiers fitted on the same trials.
    """

    section: ClassVar[str] = "crossval"

    folds: Literal["run", "subject", "stratified"] = Field(
        "run", description="run: leave one run out; subject: leave one subject out; "
        "stratified: stratified k-fold"
    )
    n_folds: int = Field(5, ge=2, description="number of stratified folds")
    inner_folds: int = Field(
        5, ge=2, description="folds inside the training folds that select hyperparameters; "
        "encoders are fitted on all but one of them and selected on that one"
    )
    blocks: str | None = Field(
        "block", description="trials.tsv column grouping trials into blocks (per run); "
        "per-block accuracy is reported when the column exists"
    )
    zscore_by_run: bool = Field(
        True, description="z-score every feature within its run before the encoders"
    )
    encoders: dict[str, dict[str, Any] | None] = Field(
        {"ridge": {}}, description="brainrecon encoders (name -> options; null: off) fitted "
        "in each fold"
    )
    train: dict[str, Any] = Field(
        {}, description="train section keys (lr, max_epochs, ...) for gradient-descent encoders"
    )
    baselines: dict[str, dict[str, Any] | None] = Field(
        {"logistic": {}}, description="baseline classifiers (name -> options; null: off), "
        "fitted in the same folds"
    )
    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0

    @field_validator("encoders")
    @classmethod
    def _known_encoders(cls, value: dict[str, dict[str, Any] | None]
                        ) -> dict[str, dict[str, Any] | None]:
        from pipeline.encoders import ENCODERS

        for name, options in value.items():
            encoder = ENCODERS.get(name)
            if options is not None:
                encoder.parse_options(options)
        return value

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, value: dict[str, dict[str, Any] | None]
                         ) -> dict[str, dict[str, Any] | None]:
        from pipeline.evaluation.classifiers import CLASSIFIERS

        for name, options in value.items():
            classifier = CLASSIFIERS.get(name)
            if options is not None:
                validate_options(classifier.Options, options, name)
        return value

    @field_validator("train")
    @classmethod
    def _train_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "encoder" in value:
            raise ValueError("got key 'encoder'; expected train keys other than encoder "
                             "(the encoders are crossval.encoders)")
        validate_options(TrainConfig, value, "train")
        return value

    @model_validator(mode="after")
    def _some_model(self) -> CrossvalConfig:
        if not self.active("encoders") and not self.active("baselines"):
            raise ValueError("got no encoders and no baselines; expected at least one model")
        return self

    def active(self, kind: Literal["encoders", "baselines"]) -> dict[str, dict[str, Any]]:
        """The models of ``kind`` that are on (options not null), name -> options."""
        return {name: options for name, options in getattr(self, kind).items()
                if options is not None}

    def train_config(self) -> TrainConfig:
        """The settings gradient-descent encoders are fitted with (seed = ``seed``)."""
        return TrainConfig.model_validate({"seed": self.seed, **self.train})

