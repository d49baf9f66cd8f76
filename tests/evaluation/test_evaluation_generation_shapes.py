"""Pairwise 3D metrics: Chamfer distance, occupancy IoU and shape-family agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.generation import GENERATION_METRICS
from pipeline.evaluation.generation.shapes import chamfer, iou, shape_family
from pipeline.generators.shape.geometry import shape_output

RES, POINTS = 24, 256


def _objects(**changes) -> pd.DataFrame:
    table = pd.DataFrame({"shape": ["cube", "cone", "torus", "sphere"],
                          "hue": [0.0, 90.0, 180.0, 270.0], "size": [0.6, 0.7, 0.8, 0.65],
                          "yaw": [10.0, -30.0, 45.0, 0.0], "pitch": [0.0, 15.0, -20.0, 5.0]})
    return table.assign(**changes)


@pytest.fixture(scope="module")
def truth():
    return shape_output(_objects(), RES, POINTS)


def test_registered_with_their_direction():
    for name, higher in (("chamfer", False), ("iou", True), ("shape_family", True)):
        metric = GENERATION_METRICS.get(name)
        assert metric.kind == "shape" and metric.statistic == "matched"
        assert metric.higher_is_better is higher


def test_self_comparison(truth):
    for metric, diagonal in ((chamfer, 0.0), (iou, 1.0), (shape_family, 1.0)):
        scores = metric(truth, truth)
        assert scores.shape == (4, 4) and scores.dtype == np.float64
        np.testing.assert_allclose(np.diag(scores), diagonal, atol=1e-9)
        np.testing.assert_allclose(scores, scores.T, atol=1e-9)
    off = ~np.eye(4, dtype=bool)
    assert (chamfer(truth, truth)[off] > 0.05).all()
    assert (iou(truth, truth)[off] < 0.9).all() and (iou(truth, truth) >= 0).all()
    np.testing.assert_array_equal(shape_family(truth, truth)[off], 0.0)


def test_scores_follow_a_growing_perturbation(truth):
    sizes = _objects()["size"].to_numpy()
    previous_iou, previous_cd = np.ones(4), np.zeros(4)
    for factor in (1.05, 1.1, 1.2):  # the torus (0.8) still fits in the grid
        grown = shape_output(_objects(size=sizes * factor), RES, POINTS)
        i, c = np.diag(iou(grown, truth)), np.diag(chamfer(grown, truth))
        assert (i < previous_iou).all() and (c > previous_cd).all()
        previous_iou, previous_cd = i, c
    # nested solids: IoU = volume ratio (not for the thin torus at 24 cells per axis)
    np.testing.assert_allclose(previous_iou[[0, 1, 3]], 1 / 1.2**3, atol=0.06)


def test_other_family_and_rectangular_matrices(truth):
    other = shape_output(_objects(shape=["octahedron", "pyramid", "cylinder", "cube"]).iloc[:3],
                         RES, POINTS)
    assert chamfer(other, truth).shape == iou(other, truth).shape == (3, 4)
    assert (np.diag(chamfer(other, truth)[:, :3]) > 0.03).all()
    assert (np.diag(iou(other, truth)[:, :3]) < 0.9).all()
    np.testing.assert_array_equal(shape_family(other, truth), [[0, 0, 0, 0], [0, 0, 0, 0],
                                                               [0, 0, 0, 0]])


def test_mismatched_sampling_is_an_error(truth):
    coarse = shape_output(_objects(), 8, POINTS)
    with pytest.raises(ValueError, match="resolution and n_points"):
        iou(coarse, truth)
