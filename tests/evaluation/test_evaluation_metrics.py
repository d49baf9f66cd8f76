"""Retrieval metrics on hand-made score matrices."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.evaluation.metrics import METRICS, top_k, top_k_curve
from pipeline.evaluation.options import EvaluateConfig

N = 10


def _perfect(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    return np.eye(n), np.arange(n)


def _reversed(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    return -np.eye(n), np.arange(n)


@pytest.mark.parametrize("name", ["top1", "top5", "top10", "two_way"])
def test_perfect_scores_give_one(name: str) -> None:
    values = METRICS.get(name).per_query(*_perfect())
    np.testing.assert_allclose(values, 1.0)


@pytest.mark.parametrize("name", ["top1", "top5", "two_way"])
def test_reversed_scores_give_zero(name: str) -> None:
    values = METRICS.get(name).per_query(*_reversed())
    np.testing.assert_allclose(values, 0.0)


def test_mean_rank_perfect_and_reversed() -> None:
    metric = METRICS.get("mean_rank")
    np.testing.assert_allclose(metric.per_query(*_perfect()), 1.0)
    np.testing.assert_allclose(metric.per_query(*_reversed()), N)
    assert not metric.higher_is_better


@pytest.mark.parametrize("name", ["top1", "top5", "two_way", "mean_rank"])
def test_random_scores_are_near_chance(name: str) -> None:
    rng = np.random.default_rng(0)
    metric = METRICS.get(name)
    scores = rng.standard_normal((20000, N))
    true_index = rng.integers(0, N, size=20000)
    mean = metric.per_query(scores, true_index).mean()
    assert mean == pytest.approx(metric.chance(N), rel=0.03)


def test_two_way_ties_count_half() -> None:
    scores = np.array([[1.0, 1.0, 0.0], [0.5, 0.5, 0.5]])
    values = METRICS.get("two_way").per_query(scores, np.array([0, 2]))
    np.testing.assert_allclose(values, [0.75, 0.5])


def test_top_k_ties_are_expected_over_random_order() -> None:
    scores = np.array([[1.0, 1.0, 0.0, 1.0]])
    np.testing.assert_allclose(top_k(scores, np.array([0]), 1), [1 / 3])
    np.testing.assert_allclose(top_k(scores, np.array([0]), 2), [2 / 3])
    np.testing.assert_allclose(top_k(scores, np.array([0]), 3), [1.0])
    constant = np.zeros((4, 8))
    assert METRICS.get("top1").per_query(constant, np.arange(4)).mean() == pytest.approx(1 / 8)


def test_chance_levels() -> None:
    assert METRICS.get("top1").chance(40) == pytest.approx(1 / 40)
    assert METRICS.get("top5").chance(40) == pytest.approx(5 / 40)
    assert METRICS.get("top10").chance(5) == 1.0
    assert METRICS.get("two_way").chance(40) == 0.5
    assert METRICS.get("mean_rank").chance(40) == pytest.approx(20.5)


def test_top_k_curve_matches_top_k_and_reaches_one() -> None:
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((30, 7))
    true_index = rng.integers(0, 7, size=30)
    ks = np.arange(1, 8)
    curve = top_k_curve(scores, true_index, ks)
    expected = [top_k(scores, true_index, k).mean() for k in ks]
    np.testing.assert_allclose(curve, expected)
    assert curve[-1] == 1.0
    assert np.all(np.diff(curve) >= 0)


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="n_query"):
        METRICS.get("top1").per_query(np.eye(3), np.arange(4))
    with pytest.raises(ValueError, match="true_index outside"):
        METRICS.get("top1").per_query(np.eye(3), np.array([0, 1, 3]))


def test_unknown_metric_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="top1, top10, top5, two_way"):
        METRICS.get("top3")
    with pytest.raises(ValidationError, match="top3"):
        EvaluateConfig(metrics=["top1", "top3"])
