"""The ``diffusion`` image generator: options, fitting on train only, sampling, save/load."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.generators import GENERATORS
from pipeline.generators.base import StimulusSet
from pipeline.generators.image.diffusion import DiffusionGenerator

TINY = {"image_size": 16, "patch_size": 4, "block_out_channels": [32, 32], "steps": 40,
        "eval_every": 20, "batch_size": 16, "lr": 3e-3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fit(stimuli: StimulusSet, **changes) -> DiffusionGenerator:
    options = DiffusionGenerator.parse_options({**TINY, **changes})
    return DiffusionGenerator.fit(options, stimuli.split("train"), stimuli.split("val"), seed=0)


def sampling(**changes):
    return DiffusionGenerator.parse_sampling({"steps": 4, **changes})


@pytest.fixture(scope="module")
def fitted(stimulus_set) -> DiffusionGenerator:
    return fit(stimulus_set)


def test_diffusion_is_registered_as_an_image_generator():
    assert GENERATORS["image"].get("diffusion") is DiffusionGenerator


def test_diffusion_output_shape_and_seeds(fitted, stimulus_set):
    latents = stimulus_set.split("test").latents
    images = fitted.generate(latents, sampling(), seed=3).images
    assert images.shape == (len(latents), 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, fitted.generate(latents, sampling(), seed=3).images)
    assert not np.array_equal(images, fitted.generate(latents, sampling(), seed=4).images)
    batched = fitted.generate(latents, sampling(batch_size=3), seed=3).images
    assert np.abs(batched.astype(int) - images).max() <= 1  # float rounding only
    # latents of any scale: only their direction matters
    np.testing.assert_array_equal(images, fitted.generate(7.5 * latents, sampling(),
                                                          seed=3).images)
    assert fitted.generate(latents[:0], sampling(), seed=3).images.shape == (0, 16, 16, 3)


def test_diffusion_guidance_and_low_level_change_the_output(fitted, stimulus_set):
    latents = stimulus_set.split("test").latents
    outputs = {(g, s): fitted.generate(latents, sampling(guidance_scale=g, init_strength=s),
                                       seed=0).images
               for g, s in [(0.0, 1.0), (1.0, 1.0), (3.0, 1.0), (3.0, 0.5), (3.0, 0.0)]}
    assert not np.array_equal(outputs[0.0, 1.0], outputs[3.0, 1.0])
    assert not np.array_equal(outputs[1.0, 1.0], outputs[3.0, 1.0])
    assert not np.array_equal(outputs[3.0, 0.5], outputs[3.0, 1.0])
    # strength 0 returns the low-level (blurry) image itself, whatever the guidance
    np.testing.assert_array_equal(outputs[3.0, 0.0], fitted.generate(
        latents, sampling(guidance_scale=0.0, init_strength=0.0), seed=5).images)


def test_projected_latents_condition_while_the_low_level_branch_reads_the_raw(fitted,
                                                                           stimulus_set):
    latents = stimulus_set.split("test").latents
    projected = stimulus_set.split("train").latents[:len(latents)]
    blurry = sampling(init_strength=0.0)  # the low-level image itself
    np.testing.assert_array_equal(fitted.generate_projected(latents, projected, blurry, 0).images,
                                  fitted.generate(latents, blurry, 0).images)
    full = sampling(init_strength=0.7)
    split = fitted.generate_projected(latents, projected, full, 0).images
    assert not np.array_equal(split, fitted.generate(latents, full, 0).images)
    assert not np.array_equal(split, fitted.generate(projected, full, 0).images)


def test_diffusion_save_load_round_trip(fitted, stimulus_set, tmp_path):
    fitted.save(tmp_path / "gen")
    files = {p.suffix for p in (tmp_path / "gen").rglob("*") if p.is_file()}
    assert files == {".json", ".safetensors", ".csv"}
    curves = pd.read_csv(tmp_path / "gen" / "history.csv")
    assert curves.to_dict("records") == fitted.history
    loaded = DiffusionGenerator.load(tmp_path / "gen")
    latents = stimulus_set.split("test").latents
    np.testing.assert_array_equal(fitted.generate(latents, sampling(), seed=2).images,
                                  loaded.generate(latents, sampling(), seed=2).images)
    assert loaded.history == fitted.history
    shutil.rmtree(tmp_path / "gen" / "unet")
    with pytest.raises(DataError, match=r"unet/config.json: file not found"):
        DiffusionGenerator.load(tmp_path / "gen")


def test_diffusion_fits_on_train_only(stimulus_set, tmp_path):
    """Test stimuli are never read; val changes the kept checkpoint, never the weights."""
    root = tmp_path / "stimuli"
    shutil.copytree(stimulus_set.root, root)
    table = stimulus_set.table
    for name in table.loc[table["split"] == "test", "image"]:
        (root / name).write_bytes(b"not an image")
    rng = np.random.default_rng(0)
    for name in table.loc[table["split"] == "val", "image"]:
        from PIL import Image

        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / name)
    latents = stimulus_set.latents.copy()
    latents[(table["split"] == "test").to_numpy()] = np.nan
    corrupted = StimulusSet(root, table, latents)
    single_checkpoint = {"steps": 10, "eval_every": 10, "low_level": False}
    clean, dirty = fit(stimulus_set, **single_checkpoint), fit(corrupted, **single_checkpoint)
    test = stimulus_set.split("test").latents
    np.testing.assert_array_equal(clean.generate(test, sampling(), seed=0).images,
                                  dirty.generate(test, sampling(), seed=0).images)
    assert clean.history[0]["val_loss"] != dirty.history[0]["val_loss"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"image_size": 30}, "image_size 30 with patch_size 4 and 2 UNet levels: expected a "
                         "multiple of 8"),
    ({"image_size": 8}, "expected a multiple of 8 of at least 16"),
    ({"block_out_channels": [16, 20]}, "multiples of 8"),
    ({"low_level_size": 32}, "low_level_size 32: expected at most image_size"),
    ({"prediction_type": "x0"}, "prediction_type"),
    ({"stepz": 3}, "stepz"),
])
def test_diffusion_bad_options_are_one_line(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        DiffusionGenerator.parse_options({**TINY, **changes})
    assert "\n" not in str(error.value)


def test_diffusion_bad_latents_are_one_line(fitted, stimulus_set):
    latents = stimulus_set.split("test").latents
    with pytest.raises(DataError, match=r"shape \(8, 5\); expected \(n, 19\)"):
        fitted.generate(latents[:, :5], sampling(), seed=0)
    with pytest.raises(DataError, match="row 1 .* norm 0.0"):
        fitted.generate(np.vstack([latents[:1], 0 * latents[:1]]), sampling(), seed=0)
    with pytest.raises(ValueError, match="init_strength"):
        DiffusionGenerator.parse_sampling({"init_strength": 1.5})


def colour_identification(generated: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of pairs (i, j != i) where generated i's mean colour is nearer truth i's."""
    g = generated.reshape(len(generated), -1, 3).mean(1)  # (n, 3)
    t = truth.reshape(len(truth), -1, 3).mean(1)
    distance = np.linalg.norm(g[:, None] - t[None], axis=2)  # (n, n)
    off = ~np.eye(len(g), dtype=bool)
    return float(np.mean((np.diag(distance)[:, None] < distance)[off]))


def test_diffusion_conditioning_carries_the_stimulus_colour(stimulus_set):
    """Pure diffusion (no low-level branch) from the true latents of held-out stimuli."""
    generator = fit(stimulus_set, steps=150, eval_every=50, low_level=False,
                    condition_noise=0.0)
    test = stimulus_set.split("test")
    truth = test.images(16)
    images = generator.generate(test.latents, sampling(steps=8, guidance_scale=2.0),
                                seed=0).images
    unconditional = generator.generate(test.latents, sampling(steps=8, guidance_scale=0.0),
                                       seed=0).images
    assert colour_identification(images, truth) > 0.7  # 0.86 to 0.89 over 3 fitting seeds
    assert colour_identification(images, truth) > colour_identification(unconditional, truth)
