"""Score generated outputs: every metric beside chance, the baseline and the ceiling, with CIs."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from pipeline.evaluation.bootstrap import bootstrap_ci
from pipeline.evaluation.generation import GENERATION_METRICS, GenerationMetric
from pipeline.evaluation.metrics import top_k, two_way
from pipeline.generators.base import ImageOutput, ShapeOutput, TextOutput

Output = ImageOutput | TextOutput | ShapeOutput
DIGITS = 6
SOURCES = ("decoder", "baseline", "ceiling")  # ceiling: generated from the true latents
METRIC_MODULES = ("images", "text", "shapes")


@functools.cache
def load_metrics() -> None:
    """Import the metric modules (each registers its metrics on import)."""
    for module in METRIC_MODULES:
        importlib.import_module(f"pipeline.evaluation.generation.{module}")


def metrics_of_kind(kind: str) -> list[str]:
    """The names of the registered metrics that score outputs of ``kind``."""
    load_metrics()
    return [name for name in GENERATION_METRICS.names()
            if GENERATION_METRICS.get(name).kind == kind]


def per_stimulus(metric: GenerationMetric, scores: np.ndarray) -> np.ndarray:
    """The metric's value for each generated output, from its pairwise matrix.

    Parameters
    ----------
    metric : GenerationMetric
    scores : ndarray, shape (n, n)
        ``scores[i, j]``: generated output ``i`` against true stimulus ``j``.

    Returns
    -------
    ndarray, shape (n,)
    """
    n = scores.shape[0]
    if scores.shape != (n, n):
        raise ValueError(f"got pairwise scores of shape {scores.shape}; expected square")
    if metric.statistic == "matched":
        return np.diag(scores).astype(np.float64)
    oriented = scores if metric.higher_is_better else -scores
    if metric.statistic == "two_way":
        return two_way(oriented, np.arange(n))
    return top_k(oriented, np.arange(n), 1)


def chance_level(metric: GenerationMetric, scores: np.ndarray) -> float:
    """What an output unrelated to its stimulus scores: the mean over mismatched pairs for
    ``matched`` metrics, 0.5 for 2-way identification, ``1 / n`` for top-1 retrieval."""
    n = scores.shape[0]
    if metric.statistic == "two_way":
        return 0.5
    if metric.statistic == "top1":
        return 1.0 / n
    return float(scores[~np.eye(n, dtype=bool)].mean())


def metric_entry(metric: GenerationMetric, generated: Mapping[str, Output], truth: Output,
                 n_bootstrap: int, confidence: float, seed: int
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Score one metric for every source of generated outputs.

    Parameters
    ----------
    metric : GenerationMetric
    generated : mapping
        Source name ("decoder", "baseline", "ceiling") -> outputs, row ``i`` for stimulus ``i``.
    truth : ImageOutput, TextOutput or ShapeOutput
        The true stimuli, same order.
    n_bootstrap, confidence, seed
        The bootstrap over test stimuli (one seed: every source is resampled identically).

    Returns
    -------
    entry : dict
        ``<source>``, ``<source>_ci`` for each source; ``chance`` (from the decoder's
        mismatched pairs); ``of_ceiling``, the decoder's way from chance to the ceiling,
        ``(decoder - chance) / (ceiling - chance)`` (0 at chance, 1 at the ceiling, whichever
        direction the metric runs); ``beats_chance`` (the decoder's CI lies wholly on the
        better side of chance), ``statistic`` and ``higher_is_better``.
    values : dict
        Source -> per-stimulus values (n,).
    """
    entry: dict[str, Any] = {"statistic": metric.statistic,
                             "higher_is_better": metric.higher_is_better}
    values: dict[str, np.ndarray] = {}
    chance = None
    for source, outputs in generated.items():
        scores = np.asarray(metric.pairwise(outputs, truth), dtype=np.float64)  # (n, n)
        values[source] = per_stimulus(metric, scores)
        low, high = bootstrap_ci(values[source], np.arange(len(values[source])), n_bootstrap,
                                 confidence, seed)
        entry[source] = round(float(values[source].mean()), DIGITS)
        entry[f"{source}_ci"] = [round(low, DIGITS), round(high, DIGITS)]
        if source == "decoder":
            chance = round(chance_level(metric, scores), DIGITS)
    entry["chance"] = chance
    decoder, ceiling = entry.get("decoder"), entry.get("ceiling")
    entry["of_ceiling"] = (round((decoder - chance) / (ceiling - chance), DIGITS)
                           if decoder is not None and ceiling is not None and ceiling != chance
                           else None)
    if decoder is not None:
        low, high = entry["decoder_ci"]
        entry["beats_chance"] = bool(low > chance if metric.higher_is_better else high < chance)
    return entry, values
