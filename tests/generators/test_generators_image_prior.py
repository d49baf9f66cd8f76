"""The diffusion prior of the ``diffusion`` image generator: it denoises held-out latents,
saves and loads with the generator, is deterministic, and changes nothing when off."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipeline.config import parse_section
from pipeline.errors import ParamsError
from pipeline.generators.base import StimulusSet
from pipeline.generators.image.diffusion import WEIGHTS, DiffusionGenerator
from pipeline.generators.latents import l2_normalise, unit_rows
from pipeline.generators.options import GeneratorsConfig

TINY = {"image_size": 16, "patch_size": 4, "block_out_channels": [16, 16], "steps": 20,
        "eval_every": 20, "batch_size": 16, "lr": 3e-3}
PRIOR = {"prior": True, "prior_steps": 300, "prior_width": 64, "prior_lr": 3e-3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fit(stimuli: StimulusSet, **changes) -> DiffusionGenerator:
    options = DiffusionGenerator.parse_options({**TINY, **changes})
    return DiffusionGenerator.fit(options, stimuli.split("train"), stimuli.split("val"), seed=0)


def sampling(**changes):
    return DiffusionGenerator.parse_sampling({"steps": 3, "prior_steps": 5, **changes})


@pytest.fixture(scope="module")
def features(stimulus_set) -> StimulusSet:
    """The stimuli with 256-d latents, a smooth function of their simulator latents: like the
    features of an image network, they lie near a low-dimensional manifold."""
    weights = np.random.default_rng(1).standard_normal((stimulus_set.latents.shape[1], 256))
    return StimulusSet(stimulus_set.root, stimulus_set.table,
                       np.tanh(stimulus_set.latents @ weights).astype(np.float32))


@pytest.fixture(scope="module")
def with_prior(features) -> DiffusionGenerator:
    return fit(features, **PRIOR)


def held_out(stimuli: StimulusSet) -> np.ndarray:
    """Unit latents of the val and test stimuli (16, dim)."""
    return l2_normalise(np.vstack([stimuli.split("val").latents, stimuli.split("test").latents]))


def test_prior_brings_noisy_held_out_latents_nearer_the_truth(with_prior, features):
    truth = held_out(features)  # (16, dim)
    noise = np.random.default_rng(0).standard_normal(truth.shape) / np.sqrt(truth.shape[1])
    noisy = unit_rows(truth + 1.73 * noise).astype(np.float32)  # cosine about 0.5
    scaler = with_prior.scaler
    denoised = with_prior.prior.sample(scaler.transform(noisy), 10,
                                       torch.Generator().manual_seed(0))
    denoised = unit_rows(denoised * scaler.scale + scaler.mean)
    before = np.mean(np.sum(noisy * truth, axis=1))
    after = np.mean(np.sum(denoised * truth, axis=1))
    assert 0.4 < before < 0.6
    assert after > before + 0.15  # measured: 0.50 -> 0.77
    assert min(h["val_loss"] for h in with_prior.prior.history) < \
        with_prior.prior.history[0]["val_loss"]


def test_prior_fit_is_deterministic(with_prior, features):
    options = DiffusionGenerator.parse_options({**TINY, **PRIOR})
    train = l2_normalise(features.split("train").latents)
    val = l2_normalise(features.split("val").latents)
    again = DiffusionGenerator.fit_prior(options, with_prior.scaler, train, val, seed=0)
    other = DiffusionGenerator.fit_prior(options, with_prior.scaler, train, val, seed=1)
    assert again.history == with_prior.prior.history != other.history
    for name, tensor in with_prior.prior.net.state_dict().items():
        torch.testing.assert_close(again.net.state_dict()[name], tensor, rtol=0, atol=0)


def test_prior_generation_is_deterministic_and_round_trips(with_prior, features, tmp_path):
    latents = features.split("test").latents
    images = with_prior.generate(latents, sampling(), seed=1).images
    assert images.shape == (len(latents), 16, 16, 3)
    np.testing.assert_array_equal(images, with_prior.generate(latents, sampling(), seed=1).images)
    assert not np.array_equal(images, with_prior.generate(latents, sampling(), seed=2).images)
    assert not np.array_equal(images, with_prior.generate(latents, sampling(prior_steps=1),
                                                          seed=1).images)
    assert with_prior.generate(latents[:0], sampling(), seed=1).images.shape == (0, 16, 16, 3)
    with_prior.save(tmp_path / "gen")
    assert any(k.startswith("prior.") for k in load_file(str(tmp_path / "gen" / WEIGHTS)))
    loaded = DiffusionGenerator.load(tmp_path / "gen")
    np.testing.assert_array_equal(images, loaded.generate(latents, sampling(), seed=1).images)
    assert loaded.prior.history == with_prior.prior.history


def test_prior_off_leaves_the_generator_unchanged(with_prior, features, tmp_path):
    assert DiffusionGenerator.parse_options({}).prior is False
    plain = fit(features)
    assert plain.prior is None
    for name, tensor in plain.unet.state_dict().items():
        torch.testing.assert_close(tensor, with_prior.unet.state_dict()[name], rtol=0, atol=0)
    latents = features.split("test").latents
    images = plain.generate(latents, sampling(), seed=1).images
    assert not np.array_equal(images, with_prior.generate(latents, sampling(), seed=1).images)
    with_prior.prior, prior = None, with_prior.prior
    try:  # the same networks without their prior generate what the plain generator does
        np.testing.assert_array_equal(
            images, with_prior.generate(latents, sampling(), seed=1).images)
    finally:
        with_prior.prior = prior
    plain.save(tmp_path / "plain")
    assert not any(k.startswith("prior.") for k in load_file(str(tmp_path / "plain" / WEIGHTS)))
    assert "prior_history" not in json.loads((tmp_path / "plain" / "config.json").read_text())


@pytest.mark.parametrize(("options", "key"), [
    ({"prior_width": 0}, "prior_width"), ({"prior_lr": 0}, "prior_lr"),
    ({"prior_steps": -1}, "prior_steps"), ({"prior_noise": -0.5}, "prior_noise"),
    ({"prior_depth": 9}, "prior_depth"),
])
def test_bad_prior_options_raise_params_errors_naming_them(options, key):
    raw = {"image": {"name": "diffusion", "options": {"diffusion": {"prior": True, **options}}}}
    with pytest.raises(ParamsError, match=key) as error:
        parse_section(GeneratorsConfig, raw)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="prior_steps"):
        DiffusionGenerator.parse_sampling({"prior_steps": 0})
