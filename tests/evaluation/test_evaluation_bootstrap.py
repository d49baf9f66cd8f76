"""Bootstrap confidence intervals over test stimuli."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.bootstrap import bootstrap_ci


def _per_stimulus_values(n_stimuli: int, n_per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stimulus_rate = rng.uniform(0.2, 0.8, size=n_stimuli)  # (n_stimuli,)
    groups = np.repeat([f"stim{index:04d}" for index in range(n_stimuli)], n_per)
    values = (rng.uniform(size=n_stimuli * n_per) < np.repeat(stimulus_rate, n_per)).astype(float)
    return values, groups


def test_ci_contains_the_mean_and_is_seeded() -> None:
    values, groups = _per_stimulus_values(30, 4, seed=0)
    low, high = bootstrap_ci(values, groups, n_bootstrap=500, confidence=0.95, seed=3)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_ci(values, groups, n_bootstrap=500, confidence=0.95, seed=3)
    narrower = bootstrap_ci(values, groups, n_bootstrap=500, confidence=0.5, seed=3)
    assert low < narrower[0] < narrower[1] < high


def test_ci_narrows_with_more_stimuli() -> None:
    few = bootstrap_ci(*_per_stimulus_values(20, 3, seed=1), 500, 0.95, 0)
    many = bootstrap_ci(*_per_stimulus_values(500, 3, seed=1), 500, 0.95, 0)
    assert many[1] - many[0] < 0.5 * (few[1] - few[0])


def test_resampling_is_by_stimulus_not_by_query() -> None:
    values = np.repeat([0.0, 1.0], 50)
    groups = np.repeat(["a", "b"], 50)
    low, high = bootstrap_ci(values, groups, n_bootstrap=400, confidence=0.95, seed=0)
    assert low == 0.0 and high == 1.0
    constant = bootstrap_ci(np.full(10, 0.3), np.repeat(["a"], 10), 50, 0.9, 0)
    assert constant == pytest.approx((0.3, 0.3))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="confidence=1.5"):
        bootstrap_ci(np.ones(3), np.arange(3), 10, 1.5, 0)
    with pytest.raises(ValueError, match="groups of shape"):
        bootstrap_ci(np.ones(3), np.arange(4), 10, 0.9, 0)
