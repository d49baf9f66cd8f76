"""Meshes of 3D objects exported to .ply and .obj, and views by the stimulus renderer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import trimesh

from pipeline.generators.base import read_image
from pipeline.generators.shape.mesh import export_meshes
from pipeline.generators.shape.views import render_views


@pytest.fixture
def objects() -> pd.DataFrame:
    return pd.DataFrame({"shape": ["cube", "torus"], "hue": [120.0, 300.0], "size": [0.6, 1.0],
                         "yaw": [0.0, 30.0], "pitch": [0.0, -20.0]})


def test_exported_meshes_reload(objects, tmp_path):
    paths = export_meshes(objects, ["a", "b"], tmp_path)
    assert [p.name for p in paths] == ["a.ply", "a.obj", "b.ply", "b.obj"]
    for path in paths[:2]:  # an axis-aligned cube of half-side 0.55 * 0.6
        mesh = trimesh.load(path, force="mesh")
        np.testing.assert_allclose(mesh.bounds, [[-0.33] * 3, [0.33] * 3], atol=2e-3)
        assert mesh.is_watertight and mesh.volume > 0
    ply = trimesh.load(paths[0], force="mesh")
    np.testing.assert_array_equal(np.unique(ply.visual.vertex_colors[:, :3], axis=0).shape, (1, 3))
    torus = trimesh.load(paths[2], force="mesh")
    assert np.abs(torus.bounds).max() <= 1.0 and torus.extents.max() > 1.4


def test_export_rejects_bad_formats(objects, tmp_path):
    with pytest.raises(ValueError, match="formats among"):
        export_meshes(objects, ["a", "b"], tmp_path, formats=("stl",))


def test_view_zero_is_the_stimulus(stimulus_set):
    table = stimulus_set.table.iloc[:4]
    for (_, row), name in zip(table.iterrows(), table["image"], strict=True):
        view = render_views(table.loc[[row.name]], (0.0, 90.0), 32, background=row["background"])
        stimulus = read_image(stimulus_set.root / name, 32)
        np.testing.assert_array_equal(view[0, 0], stimulus)
        if row["shape"] != "sphere":
            assert np.abs(view[0, 1].astype(int) - stimulus).max() > 50


def test_views_shape_and_turning(objects):
    views = render_views(objects, (0.0, 90.0, 180.0), 24)
    assert views.shape == (2, 3, 24, 24, 3) and views.dtype == np.uint8
    sphere = objects.assign(shape="sphere")
    spun = render_views(sphere, (0.0, 90.0), 24)
    np.testing.assert_allclose(spun[:, 0], spun[:, 1], atol=2)  # a sphere looks the same
    with pytest.raises(ValueError, match="unknown background"):
        render_views(objects, (0.0,), 24, background="pink")
