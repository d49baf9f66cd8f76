"""Zero-shot evaluation: metric registry, splits by stimulus, bootstrap CIs, oracle, reports."""

from pipeline.registry import Registry

METRICS = Registry("metric")

from pipeline.evaluation import metrics  # noqa: E402  (metrics register themselves)
from pipeline.evaluation.evaluate import evaluate  # noqa: E402
from pipeline.evaluation.splits import assign_splits  # noqa: E402

__all__ = ["METRICS", "assign_splits", "evaluate", "metrics"]
