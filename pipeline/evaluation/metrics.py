"""Retrieval metrics on a score matrix: per-query values and their chance level.

Every metric takes ``scores`` (n_query, n_gallery), higher meaning more similar, and
``true_index`` (n_query,), the gallery column of each query's true stimulus. Ties are
resolved in expectation over a random order, so a constant score matrix scores chance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from pipeline.registry import Registry

METRICS = Registry("metric")  # evaluate.metrics names -> Metric


@dataclass(frozen=True)
class Metric:
    """One registered retrieval metric.

    Attributes
    ----------
    name : str
        The name used in ``params.yaml``.
    per_query : callable
        ``(scores, true_index) -> values``, one value per query (n_query,).
    chance : callable
        Gallery size -> the metric's expected value for random scores.
    label : str
        A human-readable name for tables and plots.
    higher_is_better : bool
        Whether larger values mean better retrieval.
    """

    name: str
    per_query: Callable[[np.ndarray, np.ndarray], np.ndarray]
    chance: Callable[[int], float]
    label: str
    higher_is_better: bool = True


def _true_scores(scores: np.ndarray, true_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check the inputs and return them as float64 with each query's true score."""
    scores = np.asarray(scores, dtype=np.float64)  # (n_query, n_gallery)
    true_index = np.asarray(true_index, dtype=np.int64)  # (n_query,)
    if scores.ndim != 2 or true_index.shape != (scores.shape[0],):
        raise ValueError(
            f"got scores of shape {scores.shape} and true_index of shape {true_index.shape}; "
            "expected (n_query, n_gallery) and (n_query,)"
        )
    if np.any((true_index < 0) | (true_index >= scores.shape[1])):
        raise ValueError(f"got true_index outside [0, {scores.shape[1]}); expected gallery columns")
    true = np.take_along_axis(scores, true_index[:, None], axis=1)  # (n_query, 1)
    return scores, true


def _above_and_tied(scores: np.ndarray, true_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count, per query, the distractors scored above and equal to the true item."""
    scores, true = _true_scores(scores, true_index)
    above = (scores > true).sum(axis=1)  # (n_query,)
    tied = (scores == true).sum(axis=1) - 1  # (n_query,) the true item is not its own tie
    return above, tied


def top_k(scores: np.ndarray, true_index: np.ndarray, k: int) -> np.ndarray:
    """Top-k accuracy of each query: 1 if the true item ranks among the ``k`` best.

    With ties the value is the probability that a random order among the tied items puts
    the true item in the top ``k``.

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)
    k : int

    Returns
    -------
    ndarray, shape (n_query,)
    """
    above, tied = _above_and_tied(scores, true_index)
    return np.clip((k - above) / (tied + 1), 0.0, 1.0)


def top_k_curve(scores: np.ndarray, true_index: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Mean top-k accuracy for every ``k`` in ``ks`` (see :func:`top_k`).

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)
    ks : ndarray of int, shape (n_k,)

    Returns
    -------
    ndarray, shape (n_k,)
    """
    above, tied = _above_and_tied(scores, true_index)
    ks = np.asarray(ks)[:, None]  # (n_k, 1)
    return np.clip((ks - above[None, :]) / (tied[None, :] + 1), 0.0, 1.0).mean(axis=1)


def two_way(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """2-way identification: the fraction of distractors scored below the true item.

    Ties count one half. With a gallery of one there is no distractor and the value is 1.

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)

    Returns
    -------
    ndarray, shape (n_query,)
    """
    above, tied = _above_and_tied(scores, true_index)
    n_distractors = np.asarray(scores).shape[1] - 1
    if n_distractors == 0:
        return np.ones(above.shape)
    return (n_distractors - above - 0.5 * tied) / n_distractors


def mean_rank(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """Rank of the true item (1 = best), ties sharing the mean of their ranks.

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)

    Returns
    -------
    ndarray, shape (n_query,)
    """
    above, tied = _above_and_tied(scores, true_index)
    return 1.0 + above + 0.5 * tied


def top_k_chance(n_gallery: int, k: int) -> float:
    """Chance top-k accuracy for a gallery of ``n_gallery`` items."""
    return min(k / n_gallery, 1.0)


for _k in (1, 5, 10):
    METRICS.register(f"top{_k}")(
        Metric(
            name=f"top{_k}",
            per_query=partial(top_k, k=_k),
            chance=partial(top_k_chance, k=_k),
            label=f"top-{_k} accuracy",
        )
    )

METRICS.register("two_way")(
    Metric(name="two_way", per_query=two_way, chance=lambda n: 0.5, label="2-way identification")
)

METRICS.register("mean_rank")(
    Metric(
        name="mean_rank",
        per_query=mean_rank,
        chance=lambda n: (n + 1) / 2,
        label="mean rank",
        higher_is_better=False,
    )
)
