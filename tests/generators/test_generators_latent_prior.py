"""The training-latent prior: predicted latents pulled onto the training latents."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import DataError
from pipeline.generators.latent_prior import project_on_training
from pipeline.generators.options import GenerateConfig


@pytest.fixture(scope="module")
def train_latents():
    return np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32) + 3.0


def test_a_small_temperature_returns_the_nearest_training_latent(train_latents):
    rng = np.random.default_rng(1)
    noisy = train_latents[[3, 7]] + 0.2 * rng.normal(size=(2, 16))
    projected = project_on_training(noisy * 5.0, train_latents, temperature=1e-3)
    np.testing.assert_allclose(projected, train_latents[[3, 7]], atol=1e-4)


def test_a_large_temperature_tends_to_the_mean_training_latent(train_latents):
    projected = project_on_training(train_latents[:2], train_latents, temperature=1e4)
    np.testing.assert_allclose(projected, train_latents.mean(axis=0)[None].repeat(2, 0),
                               atol=1e-3)


def test_projection_moves_noisy_latents_closer_to_their_truth(train_latents):
    rng = np.random.default_rng(2)
    truth = train_latents[:20]
    noisy = truth + 1.5 * rng.normal(size=truth.shape)
    projected = project_on_training(noisy, train_latents, temperature=0.05)

    def error(x):
        return np.linalg.norm(x - truth, axis=1).mean()

    assert error(projected) < error(noisy)


def test_zero_latents_are_refused_and_the_config_is_off_by_default(train_latents):
    with pytest.raises(DataError, match="predicted latents: row 0"):
        project_on_training(np.zeros((1, 16)), train_latents, 0.05)
    assert GenerateConfig().latent_prior is None
    assert GenerateConfig(latent_prior={}).latent_prior.kinds == ["image"]
