"""The ridge encoder's closed-form fit and validation-only alpha selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from pipeline.encoders.datamodule import SplitArrays
from pipeline.encoders.ridge import RidgeEncoder

C, T, D = 3, 4, 2


def split(x: np.ndarray, target: np.ndarray) -> SplitArrays:
    return SplitArrays(
        x=x.astype(np.float32),
        subject=np.zeros(len(x), dtype=np.int64),
        target=target.astype(np.float32),
        stimulus=np.arange(len(x), dtype=np.int64),
    )


def linear_data(rng: np.random.Generator, n: int, weight: np.ndarray, noise: float = 0.0):
    x = rng.normal(size=(n, C, T)) * rng.uniform(0.5, 3.0, size=(1, C, T)) + 1.0
    y = x.reshape(n, -1) @ weight + 0.5 + noise * rng.normal(size=(n, D))
    return x, y


def ridge(alphas, selection="mse") -> RidgeEncoder:
    return RidgeEncoder(C, T, 100.0, D, 1, np.zeros((C, 3)), alphas=alphas, selection=selection)


def test_closed_form_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(C * T, D))
    x, y = linear_data(rng, 200, weight)
    x_val, y_val = linear_data(rng, 50, weight)
    encoder = ridge([1e-6, 1.0, 100.0])
    history, selected = encoder.fit_closed_form(split(x, y), split(x_val, y_val))
    assert selected["alpha"] == 1e-6
    assert list(history["alpha"]) == [1e-6, 1.0, 100.0]
    x_test, y_test = linear_data(rng, 20, weight)
    with torch.no_grad():
        pred = encoder(torch.from_numpy(x_test).float(), torch.zeros(20, dtype=torch.long))
    np.testing.assert_allclose(pred.numpy(), y_test, atol=1e-3)
    assert selected["val_loss"] < 1e-6


def test_alpha_is_selected_on_the_validation_split():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(C * T, D))
    x, y = linear_data(rng, 100, weight, noise=0.1)
    alphas = [1e-3, 1e6]
    x_val, y_val = linear_data(rng, 50, weight)
    related = ridge(alphas).fit_closed_form(split(x, y), split(x_val, y_val))[1]
    unrelated_targets = rng.normal(size=y_val.shape) + y.mean(axis=0)
    unrelated = ridge(alphas).fit_closed_form(split(x, y), split(x_val, unrelated_targets))[1]
    assert related["alpha"] == 1e-3
    assert unrelated["alpha"] == 1e6


def test_rank_selection_scores_retrieval():
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(C * T, D))
    x, y = linear_data(rng, 100, weight)
    x_val, y_val = linear_data(rng, 30, weight)
    history, selected = ridge([1e-3, 1e8], selection="rank").fit_closed_form(
        split(x, y), split(x_val, y_val)
    )
    assert selected["alpha"] == 1e-3
    assert selected["val_loss"] == history["val_rank"].min()
    assert history["val_rank"].iloc[0] < history["val_rank"].iloc[1]


@pytest.mark.parametrize("n_trials", [8, 40])
def test_kernel_and_primal_forms_match_sklearn_ridge(n_trials):
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(C * T, D))
    x, y = linear_data(rng, n_trials, weight, noise=0.5)
    x_val, y_val = linear_data(rng, 10, weight)
    encoder = ridge([3.0])
    encoder.fit_closed_form(split(x, y), split(x_val, y_val))
    flat = x.reshape(n_trials, -1)
    reference = Ridge(alpha=3.0).fit((flat - flat.mean(0)) / flat.std(0), y)
    linear = encoder.linear
    np.testing.assert_allclose(linear.weight.detach().numpy(), reference.coef_, atol=1e-4)
    np.testing.assert_allclose(linear.bias.detach().numpy(), reference.intercept_, atol=1e-4)
