"""The parametric 3D generator: fitting, generation, save/load and its input errors."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import DataError
from pipeline.evaluation.generation.shapes import chamfer, iou, shape_family
from pipeline.generators import GENERATORS
from pipeline.generators.base import ShapeOutput, StimulusSet
from pipeline.generators.shape.geometry import shape_output, true_shapes
from pipeline.generators.shape.parametric import ParametricGenerator


def _fit(stimulus_set: StimulusSet, **options) -> ParametricGenerator:
    return ParametricGenerator.fit(ParametricGenerator.parse_options(options),
                                   stimulus_set.split("train"), stimulus_set.split("val"), seed=0)


@pytest.fixture(scope="module")
def fitted(stimulus_set) -> ParametricGenerator:
    return _fit(stimulus_set)


@pytest.fixture(scope="module")
def sampling():
    return ParametricGenerator.parse_sampling({"resolution": 16, "n_points": 128})


def _matched_and_chance(scores: np.ndarray) -> tuple[float, float]:
    off = ~np.eye(len(scores), dtype=bool)
    return float(np.diag(scores).mean()), float(scores[off].mean())


def test_registered_as_shape_generator():
    assert GENERATORS["shape"].get("parametric") is ParametricGenerator


def test_simulator_latents_give_the_test_objects(fitted, stimulus_set, sampling):
    test = stimulus_set.split("test")
    out = fitted.generate(test.latents, sampling, seed=0)
    truth = true_shapes(test.table, sampling.resolution, sampling.n_points)
    assert isinstance(out, ShapeOutput)
    assert out.points.shape == (len(test), 128, 3) and out.points.dtype == np.float32
    assert out.occupancy.shape == (len(test), 16, 16, 16) and out.occupancy.dtype == bool
    assert list(out.parameters.columns) == ["shape", "hue", "size", "yaw", "pitch"]
    assert np.abs(out.points).max() <= 1.0
    assert np.diag(shape_family(out, truth)).mean() >= 7 / 8
    params, true = out.parameters, test.table
    assert np.abs(params["size"] - true["size"]).mean() < 0.05
    hue_error = np.abs((params["hue"] - true["hue"] + 180) % 360 - 180)
    assert np.median(hue_error) < 15
    iou_matched, iou_chance = _matched_and_chance(iou(out, truth))
    cd_matched, cd_chance = _matched_and_chance(chamfer(out, truth))
    assert iou_matched > 0.7 > iou_chance + 0.2
    assert cd_matched < 0.5 * cd_chance


def test_any_latent_scale_and_deterministic(fitted, stimulus_set, sampling):
    latents = stimulus_set.split("test").latents
    a = fitted.generate(latents, sampling, seed=0)
    b = fitted.generate(7.5 * latents, sampling, seed=3)  # predicted latents: arbitrary scale
    assert (a.parameters["shape"] == b.parameters["shape"]).all()
    columns = ["hue", "size", "yaw", "pitch"]
    np.testing.assert_allclose(a.parameters[columns], b.parameters[columns], atol=1e-3)
    c = fitted.generate(latents, sampling, seed=0)
    assert a.parameters.equals(c.parameters)
    np.testing.assert_array_equal(a.occupancy, c.occupancy)


def test_true_parameters_round_trip(stimulus_set, sampling):
    """The generator's geometry of the true parameters is the ground truth of the stimuli."""
    test = stimulus_set.split("test")
    truth = true_shapes(test.table, sampling.resolution, sampling.n_points)
    rebuilt = shape_output(test.table[["pitch", "yaw", "size", "hue", "shape"]],
                           sampling.resolution, sampling.n_points)
    np.testing.assert_array_equal(np.diag(iou(rebuilt, truth)), 1.0)
    np.testing.assert_allclose(np.diag(chamfer(rebuilt, truth)), 0.0, atol=1e-6)


def test_save_load_round_trip(fitted, stimulus_set, sampling, tmp_path):
    fitted.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.safetensors"]
    loaded = ParametricGenerator.load(tmp_path)
    latents = stimulus_set.split("test").latents
    a, b = fitted.generate(latents, sampling, 0), loaded.generate(latents, sampling, 0)
    assert a.parameters.equals(b.parameters)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.occupancy, b.occupancy)


def test_missing_columns_are_one_line_errors(stimulus_set):
    table = stimulus_set.table.drop(columns=["yaw", "pitch"])
    broken = StimulusSet(stimulus_set.root, table, stimulus_set.latents)
    with pytest.raises(DataError, match=r"stimuli.tsv.*missing yaw, pitch") as info:
        _fit(broken)
    assert "\n" not in str(info.value)


def test_unknown_family_and_wrong_latent_dim(fitted, stimulus_set, sampling):
    table = stimulus_set.table.copy()
    table.loc[0, "shape"] = "teapot"
    with pytest.raises(DataError, match="unknown shape families teapot"):
        _fit(StimulusSet(stimulus_set.root, table, stimulus_set.latents))
    with pytest.raises(DataError, match=r"shape \(2, 5\)"):
        fitted.generate(np.ones((2, 5), np.float32), sampling, 0)


def test_unknown_option_is_rejected():
    with pytest.raises(ValueError, match="resolutoin"):
        ParametricGenerator.parse_sampling({"resolutoin": 8})
