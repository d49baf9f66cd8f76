"""Baseline classifiers: the tangent-space classifier's augmented covariance option."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score

from pipeline.errors import ParamsError
from pipeline.evaluation.classifiers import CLASSIFIERS

TANGENT = CLASSIFIERS.get("tangent")


def lag_or_lead(n_per_class: int, n_times: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Channel 1 follows channel 0 by one sample (class 0) or precedes it (class 1).

    The classes mirror each other in time, so their zero-lag covariances have one
    distribution; only a delayed copy of the channels tells them apart.
    """
    rng = np.random.default_rng(0)
    source = rng.normal(size=(2 * n_per_class, n_times + 2))  # (N, T + 2)
    label = np.repeat([0, 1], n_per_class)
    follower = np.where(label[:, None] == 0, source[:, :n_times], source[:, 2:])  # (N, T)
    x = np.stack([source[:, 1:-1], follower, np.zeros_like(follower)], axis=1)  # (N, 3, T)
    return x + 0.5 * rng.normal(size=x.shape), label


def accuracy(x: np.ndarray, y: np.ndarray, **options) -> float:
    estimator, _ = TANGENT.build(TANGENT.Options(**options))
    return float(cross_val_score(estimator, x, y, cv=4).mean())


def test_plain_covariance_is_the_default_and_unchanged():
    estimator, grid = TANGENT.build(TANGENT.Options())
    assert [name for name, _ in estimator.steps] == [
        "float64", "covariance", "tangent", "scale", "clf"]
    assert grid == {}


def test_augmented_covariance_sees_temporal_structure_plain_covariance_does_not():
    x, y = lag_or_lead(40)
    assert accuracy(x, y) < 0.7  # one distribution of zero-lag covariances in both classes
    assert accuracy(x, y, order=2, lag=1) > 0.95  # the lag-1 cross-covariance tells them apart
    estimator, _ = TANGENT.build(TANGENT.Options(order=3, lag=2))
    assert estimator.named_steps["augment"].transform(x).shape == (80, 9, 96)


def test_delays_longer_than_the_epoch_are_a_params_error():
    x, y = lag_or_lead(4, n_times=10)
    estimator, _ = TANGENT.build(TANGENT.Options(order=4, lag=3))
    with pytest.raises(ParamsError, match="tangent: order 4 and lag 3 span 9 samples"):
        estimator.fit(x, y)
