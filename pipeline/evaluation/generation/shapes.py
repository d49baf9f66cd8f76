"""Pairwise scores of generated 3D objects against the true objects of the test stimuli.

``S[i, j]`` compares generated object ``i`` with true object ``j`` (both
:class:`~pipeline.generators.base.ShapeOutput`, the truth from
:func:`pipeline.generators.shape.geometry.true_shapes` with the generator's resolution and
number of points).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from pipeline.evaluation.generation import register_metric
from pipeline.generators.base import ShapeOutput


def _check(generated: ShapeOutput, truth: ShapeOutput, field: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = getattr(generated, field), getattr(truth, field)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"3D metrics: generated {field} of shape {a.shape[1:]} per object, true "
                         f"{field} {b.shape[1:]}; expected the same (build the truth with the "
                         "generator's resolution and n_points)")
    return a, b


def _nearest_mean(trees: list[cKDTree], points: np.ndarray) -> np.ndarray:
    """Mean distance from each object's points to each tree's cloud.

    Parameters
    ----------
    trees : list of cKDTree, length m
    points : ndarray, shape (n, p, 3)

    Returns
    -------
    ndarray, shape (n, m)
        ``[i, j]``: mean over the points of object ``i`` of the distance to cloud ``j``.
    """
    n, p, _ = points.shape
    flat = points.reshape(-1, 3)  # (n * p, 3)
    out = np.empty((n, len(trees)))
    for j, tree in enumerate(trees):
        distance, _ = tree.query(flat, k=1)  # (n * p,)
        out[:, j] = distance.reshape(n, p).mean(axis=1)
    return out


@register_metric("chamfer", kind="shape", statistic="matched", higher_is_better=False)
def chamfer(generated: ShapeOutput, truth: ShapeOutput) -> np.ndarray:
    """Symmetric Chamfer distance between surface point clouds, in world units.

    ``S[i, j] = (mean_a d(a, T_j) + mean_b d(b, G_i)) / 2`` over the points ``a`` of generated
    object ``i`` and ``b`` of true object ``j``, with ``d`` the distance to the nearest point
    of the other cloud (not squared). 0 for identical objects; lower is better.

    Returns
    -------
    ndarray, shape (n_generated, n_true), float64
    """
    gen, true = _check(generated, truth, "points")
    gen, true = gen.astype(np.float64), true.astype(np.float64)
    to_true = _nearest_mean([cKDTree(cloud) for cloud in true], gen)  # (n_gen, n_true)
    to_gen = _nearest_mean([cKDTree(cloud) for cloud in gen], true)  # (n_true, n_gen)
    return 0.5 * (to_true + to_gen.T)


@register_metric("iou", kind="shape", statistic="matched", higher_is_better=True)
def iou(generated: ShapeOutput, truth: ShapeOutput) -> np.ndarray:
    """Intersection over union of occupancy grids (1 where both grids are empty).

    Returns
    -------
    ndarray, shape (n_generated, n_true), float64
    """
    gen, true = _check(generated, truth, "occupancy")
    a = gen.reshape(len(gen), -1).astype(np.float64)  # (n_gen, cells)
    b = true.reshape(len(true), -1).astype(np.float64)  # (n_true, cells)
    intersection = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1.0), 1.0)


@register_metric("shape_family", kind="shape", statistic="matched", higher_is_better=True)
def shape_family(generated: ShapeOutput, truth: ShapeOutput) -> np.ndarray:
    """1.0 where the family of generated object ``i`` is that of true object ``j``, else 0.0.

    Its matched mean is the family accuracy; its chance the off-diagonal mean (how often two
    different test stimuli share a family).

    Returns
    -------
    ndarray, shape (n_generated, n_true), float64
    """
    gen = generated.parameters["shape"].astype(str).to_numpy()
    true = truth.parameters["shape"].astype(str).to_numpy()
    return (gen[:, None] == true[None, :]).astype(np.float64)
