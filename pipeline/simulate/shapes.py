"""Signed distance functions of the stimulus shape families, in the object frame.

Every shape is centred on the origin, fits inside the unit sphere (the renderer's bounding
volume) and has its "front" facing +z and its "up" along +y, so yaw and pitch are visible
on every shape that is not rotationally symmetric.
"""

from __future__ import annotations

import numpy as np

from pipeline.registry import Registry

SHAPES = Registry("shape")
BOUNDING_RADIUS = 1.0  # every shape lies inside this sphere (object frame)


def _length(*components: np.ndarray) -> np.ndarray:
    return np.sqrt(sum(c * c for c in components))


@SHAPES.register("sphere")
def sphere(p: np.ndarray) -> np.ndarray:
    """Sphere of radius 0.8. ``p`` is (N, 3); returns (N,) signed distances."""
    return _length(p[:, 0], p[:, 1], p[:, 2]) - 0.8


@SHAPES.register("cube")
def cube(p: np.ndarray) -> np.ndarray:
    """Cube of half-side 0.55 (corners at 0.95). ``p`` is (N, 3); returns (N,)."""
    q = np.abs(p) - 0.55  # (N, 3)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    return outside + np.minimum(q.max(axis=1), 0.0)


@SHAPES.register("cylinder")
def cylinder(p: np.ndarray) -> np.ndarray:
    """Upright cylinder (axis +y), radius 0.5, half-height 0.65. ``p`` is (N, 3); returns (N,)."""
    dx = _length(p[:, 0], p[:, 2]) - 0.5
    dy = np.abs(p[:, 1]) - 0.65
    outside = _length(np.maximum(dx, 0.0), np.maximum(dy, 0.0))
    return outside + np.minimum(np.maximum(dx, dy), 0.0)


@SHAPES.register("cone")
def cone(p: np.ndarray) -> np.ndarray:
    """Upright cone: base radius 0.7 at y=-0.6, apex at y=+0.6. ``p`` is (N, 3); returns (N,)."""
    half_height, r_base, r_top = 0.6, 0.7, 0.0
    qx = _length(p[:, 0], p[:, 2])
    qy = p[:, 1]
    k2x, k2y = r_top - r_base, 2.0 * half_height
    cax = qx - np.minimum(qx, np.where(qy < 0.0, r_base, r_top))
    cay = np.abs(qy) - half_height
    t = np.clip(((r_top - qx) * k2x + (half_height - qy) * k2y) / (k2x**2 + k2y**2), 0.0, 1.0)
    cbx = qx - r_top + k2x * t
    cby = qy - half_height + k2y * t
    sign = np.where((cbx < 0.0) & (cay < 0.0), -1.0, 1.0)
    return sign * np.sqrt(np.minimum(cax**2 + cay**2, cbx**2 + cby**2))


@SHAPES.register("torus")
def torus(p: np.ndarray) -> np.ndarray:
    """Ring facing the viewer (in the xy plane), radii 0.55 and 0.22. ``p`` is (N, 3)."""
    return _length(_length(p[:, 0], p[:, 1]) - 0.55, p[:, 2]) - 0.22


@SHAPES.register("pyramid")
def pyramid(p: np.ndarray) -> np.ndarray:
    """Square pyramid: base half-side 0.6 at y=-0.45, apex at y=+0.75. ``p`` is (N, 3).

    The intersection of five half-spaces: exact inside, a lower bound outside.
    """
    normal = np.array([1.2, 0.6]) / np.hypot(1.2, 0.6)  # side faces, in the (|x|, y) plane
    offset = normal[1] * 0.75  # every side face passes through the apex (0, 0.75, 0)
    base = -p[:, 1] - 0.45
    side_x = normal[0] * np.abs(p[:, 0]) + normal[1] * p[:, 1] - offset
    side_z = normal[0] * np.abs(p[:, 2]) + normal[1] * p[:, 1] - offset
    return np.maximum(base, np.maximum(side_x, side_z))


@SHAPES.register("octahedron")
def octahedron(p: np.ndarray) -> np.ndarray:
    """Regular octahedron with vertices at distance 0.9. ``p`` is (N, 3); returns (N,)."""
    return (np.abs(p).sum(axis=1) - 0.9) / np.sqrt(3.0)
