"""Shapes and the ray-marcher: distinct, posed, stable images."""

from __future__ import annotations

import numpy as np

from pipeline.simulate.render import render
from pipeline.simulate.shapes import SHAPES
from pipeline.simulate.stimuli import make_stimuli


def _render_all_shapes(yaw: float = 30.0, pitch: float = 20.0) -> np.ndarray:
    n = len(SHAPES)
    return render(
        shapes=SHAPES.names(),
        colours=np.tile([0.9, 0.2, 0.2], (n, 1)),
        sizes=np.full(n, 0.9),
        yaw=np.full(n, yaw),
        pitch=np.full(n, pitch),
        backgrounds=np.tile([0.5, 0.5, 0.5], (n, 1)),
        image_size=32,
    )


def test_at_least_six_shape_families_with_distinct_images():
    images = _render_all_shapes().astype(float)  # (S, H, W, 3)
    assert len(images) >= 6
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            differing = np.mean(np.abs(images[i] - images[j]).sum(-1) > 30)
            assert differing > 0.03, (SHAPES.names()[i], SHAPES.names()[j], differing)


def test_object_near_centre_background_in_corners():
    images = _render_all_shapes().astype(int)
    background = np.array([128, 128, 128])
    assert np.all(np.abs(images[:, 0, 0] - background) <= 1)
    centre = np.abs(images[:, 8:24, 8:24] - background).sum(-1) > 20  # (S, 16, 16)
    assert np.all(centre.mean(axis=(1, 2)) > 0.2)


def test_pose_changes_the_image_of_a_cube():
    front = render(["cube"], np.array([[0.2, 0.8, 0.2]]), np.array([0.9]), np.array([0.0]),
                   np.array([0.0]), np.array([[0.0, 0.0, 0.0]]), 32)
    turned = render(["cube"], np.array([[0.2, 0.8, 0.2]]), np.array([0.9]), np.array([45.0]),
                    np.array([0.0]), np.array([[0.0, 0.0, 0.0]]), 32)
    assert np.mean(np.abs(front.astype(int) - turned.astype(int))) > 5


def test_signed_distances_are_one_lipschitz_and_bounded():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1.2, 1.2, size=(20000, 3))
    moved = points + 0.01 * rng.standard_normal(points.shape)
    for name in SHAPES:
        sdf = SHAPES.get(name)
        assert sdf(points).min() < -0.05, name
        ratio = np.abs(sdf(moved) - sdf(points)) / np.linalg.norm(moved - points, axis=1)
        assert ratio.max() < 1.0 + 1e-6, name
        assert np.all(sdf(points[np.linalg.norm(points, axis=1) > 1.0]) > 0), name


def test_stimuli_are_stable_for_a_seed_and_change_with_it(make_config):
    first = make_stimuli(make_config())
    again = make_stimuli(make_config())
    other = make_stimuli(make_config(seed=1))
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.latents, again.latents)
    assert first.table.equals(again.table)
    assert not np.array_equal(first.images, other.images)
    assert first.images.shape == (20, 32, 32, 3) and first.images.dtype == np.uint8
