"""``evaluate``: zero-shot retrieval metrics with chance, CI, baseline and oracle."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from pipeline.config import Section


class EvaluateConfig(Section):
    """``evaluate``: zero-shot retrieval metrics with chance, CI, baseline and oracle."""

    section: ClassVar[str] = "evaluate"

    metrics: list[str] = ["top1", "top5", "two_way"]
    average_repetitions: bool = True
    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
    sheet_rows: int = Field(12, ge=1, description="test stimuli in the reconstruction sheet")
    word_level: bool = Field(
        False, description="also score words: each test stimulus' caption words among all of "
        "the test captions' words (pipeline.evaluation.words)"
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        from pipeline.evaluation.metrics import METRICS

        for name in value:
            METRICS.get(name)
        return value
