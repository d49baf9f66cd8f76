"""Scores of generated images, captions and 3D objects against the test stimuli.

Every metric is a *pairwise* score: ``S[i, j]`` compares generated output ``i`` with true
stimulus ``j``. The matched score of stimulus ``i`` is ``S[i, i]``; its chance level is the
mean of ``S[i, j]`` over the other stimuli (what a generator that ignores the brain would
score); identification asks whether ``S[i, i]`` beats ``S[i, j]``. One definition of chance
therefore serves PixCorr, SSIM, BLEU, Chamfer distance and the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pipeline.registry import Registry

Statistic = Literal["matched", "two_way", "top1"]


@dataclass(frozen=True)
class GenerationMetric:
    """A registered pairwise metric.

    Attributes
    ----------
    kind : {"image", "text", "shape"}
        The output it scores.
    pairwise : callable
        ``pairwise(generated, truth) -> ndarray (n, n)``, float64: ``S[i, j]`` scores generated
        output ``i`` (an ImageOutput, TextOutput or ShapeOutput) against true stimulus ``j``
        (the same dataclass, built from the stimuli).
    statistic : {"matched", "two_way", "top1"}
        ``matched``: mean of ``S[i, i]``, chance the mean off-diagonal score;
        ``two_way``: fraction of ``j != i`` with ``S[i, i]`` better than ``S[i, j]``, chance 0.5;
        ``top1``: fraction of ``i`` whose best ``j`` is ``i``, chance ``1 / n``.
    higher_is_better : bool
        False for distances (Chamfer): "better" then means lower.
    """

    kind: str
    pairwise: Callable[..., np.ndarray]
    statistic: Statistic = "matched"
    higher_is_better: bool = True


GENERATION_METRICS: Registry[GenerationMetric] = Registry("generation metric")


def register_metric(name: str, kind: str, statistic: Statistic = "matched",
                    higher_is_better: bool = True) -> Callable[[Callable], Callable]:
    """Register a pairwise scoring function as metric ``name`` (see :class:`GenerationMetric`)."""

    def decorator(pairwise: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        GENERATION_METRICS.register(name)(
            GenerationMetric(kind, pairwise, statistic, higher_is_better)
        )
        return pairwise

    return decorator
