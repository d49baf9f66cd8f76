"""3D objects from parameters: posed as the renderer poses them, surface points, occupancy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import trimesh

from pipeline.errors import DataError
from pipeline.generators.shape.geometry import (
    canonical_mesh,
    occupancy,
    surface_points,
    true_shapes,
)
from pipeline.generators.shape.views import render_views
from pipeline.simulate.render import CAMERA_DISTANCE, TAN_HALF_FOV, rotations
from pipeline.simulate.shapes import SHAPES
from pipeline.simulate.stimuli import BACKGROUNDS


def _objects(**columns) -> pd.DataFrame:
    base = {"shape": "pyramid", "hue": 0.0, "size": 0.8, "yaw": 40.0, "pitch": 20.0}
    base.update(columns)
    return pd.DataFrame({k: np.atleast_1d(v) for k, v in base.items()})


@pytest.mark.parametrize("shape", SHAPES.names())
def test_points_lie_on_the_posed_surface(shape):
    objects = _objects(shape=shape, size=0.7, yaw=-25.0, pitch=12.0)
    points = surface_points(objects, 256)[0].astype(np.float64)  # (256, 3)
    local = points @ rotations(np.array([-25.0]), np.array([12.0]))[0] / 0.7
    np.testing.assert_allclose(SHAPES.get(shape)(local), 0.0, atol=1e-4)
    assert np.linalg.norm(points, axis=1).max() <= 0.7 + 1e-6


def test_points_project_onto_the_rendered_object():
    """Seen through the renderer's camera, the points cover the object and nothing else."""
    size = 64
    objects = _objects(shape="pyramid", yaw=40.0, pitch=20.0)
    image = render_views(objects, (0.0,), size, background="black")[0, 0]
    background = np.round(np.asarray(BACKGROUNDS["black"]) * 255)
    mask = np.abs(image - background).max(-1) > 2  # (size, size)

    def hits(table: pd.DataFrame) -> float:
        x, y, z = surface_points(table, 1024)[0].T
        depth = CAMERA_DISTANCE - z
        col = ((x / (depth * TAN_HALF_FOV) + 1) / 2 * size).astype(int)
        row = ((1 - y / (depth * TAN_HALF_FOV)) / 2 * size).astype(int)
        return float(mask[row, col].mean())

    assert hits(objects) > 0.99
    assert hits(_objects(yaw=-40.0)) < 0.85  # a yaw or pitch of the other sign misses
    assert hits(_objects(pitch=-20.0)) < 0.85


def test_occupancy_volume_matches_the_mesh():
    objects = _objects(shape="cube", size=0.9, yaw=30.0, pitch=0.0)
    grid = occupancy(objects, 48)[0]
    vertices, faces = canonical_mesh("cube")
    volume = trimesh.Trimesh(vertices, faces, process=False).volume * 0.9**3
    assert grid.sum() * (2 / 48) ** 3 == pytest.approx(volume, rel=0.03)
    assert volume == pytest.approx((1.1 * 0.9) ** 3, rel=0.01)
    # axes x, y, z: a cube turned about y is as wide in x as in z, and wider than tall
    width, height, depth = (grid.any(axis=axes).sum() for axes in ((1, 2), (0, 2), (0, 1)))
    assert width == depth > height + 4


def test_true_shapes_need_parameters(stimulus_set):
    out = true_shapes(stimulus_set.table.iloc[:3], resolution=8, n_points=32)
    assert out.points.shape == (3, 32, 3) and out.occupancy.shape == (3, 8, 8, 8)
    with pytest.raises(DataError, match="stimuli.tsv: missing 3D parameter columns size"):
        true_shapes(stimulus_set.table.drop(columns="size"))


@pytest.mark.parametrize("shape", SHAPES.names())
def test_canonical_meshes_are_closed(shape):
    vertices, faces = canonical_mesh(shape)
    mesh = trimesh.Trimesh(vertices, faces)  # merges coincident vertices, as loading a file does
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
