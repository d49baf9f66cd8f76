"""A vectorised numpy ray-marcher: parametric 3D objects -> shaded RGB images.

A pinhole camera on the +z axis looks at the origin; each object is a signed distance
function (:mod:`pipeline.simulate.shapes`) scaled, rotated (yaw about the vertical axis, then
pitch about the horizontal one) and lit by one directional light with Lambert shading over a
flat background. Rays of all stimuli of one shape family are marched together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pipeline.simulate.shapes import BOUNDING_RADIUS, SHAPES

CAMERA_DISTANCE = 4.0
TAN_HALF_FOV = 0.3  # the image spans +-1.2 world units at the object's depth
LIGHT = np.array([-0.5, 0.6, 0.65]) / np.linalg.norm([-0.5, 0.6, 0.65])
AMBIENT = 0.3
MAX_STEPS = 64
HIT_EPSILON = 1e-3
NORMAL_EPSILON = 1e-3


def rotations(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Object-to-world rotation matrices.

    Parameters
    ----------
    yaw, pitch : ndarray, shape (n,)
        Angles in degrees. Positive yaw turns the object's front to the viewer's right,
        positive pitch tilts it up.

    Returns
    -------
    ndarray, shape (n, 3, 3)
    """
    a, b = np.deg2rad(yaw), -np.deg2rad(pitch)
    zero, one = np.zeros_like(a), np.ones_like(a)
    r_yaw = np.stack(
        [np.stack([np.cos(a), zero, np.sin(a)], -1), np.stack([zero, one, zero], -1),
         np.stack([-np.sin(a), zero, np.cos(a)], -1)], -2,
    )  # (n, 3, 3)
    r_pitch = np.stack(
        [np.stack([one, zero, zero], -1), np.stack([zero, np.cos(b), -np.sin(b)], -1),
         np.stack([zero, np.sin(b), np.cos(b)], -1)], -2,
    )  # (n, 3, 3)
    return r_yaw @ r_pitch


def camera_rays(resolution: int) -> np.ndarray:
    """Unit ray directions of the pixels, row-major from the top-left. Returns (P, 3)."""
    centres = (np.arange(resolution) + 0.5) / resolution * 2.0 - 1.0
    v, u = np.meshgrid(-centres, centres, indexing="ij")
    directions = np.stack([u * TAN_HALF_FOV, v * TAN_HALF_FOV, -np.ones_like(u)], -1).reshape(-1, 3)
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def _march(
    sdf: Callable[[np.ndarray], np.ndarray],
    origins: np.ndarray,
    directions: np.ndarray,
    scale: np.ndarray,
    t_near: np.ndarray,
    t_far: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sphere-trace rays given in the object frame; returns (hit (K,), t (K,))."""
    t = t_near.copy()
    hit = np.zeros(t.shape, dtype=bool)
    active = np.arange(t.size)
    for _ in range(MAX_STEPS):
        if active.size == 0:
            break
        points = origins[active] + t[active, None] * directions[active]  # (A, 3)
        distance = sdf(points) * scale[active]
        t[active] += distance
        done = distance < HIT_EPSILON
        hit[active[done]] = True
        active = active[~done & (t[active] < t_far[active])]
    return hit, t


def _normals(sdf: Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> np.ndarray:
    """Unit outward normals by central differences in the object frame. (H, 3) -> (H, 3)."""
    gradient = np.empty_like(points)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = NORMAL_EPSILON
        gradient[:, axis] = sdf(points + step) - sdf(points - step)
    return gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)


def render(
    shapes: Sequence[str],
    colours: np.ndarray,
    sizes: np.ndarray,
    yaw: np.ndarray,
    pitch: np.ndarray,
    backgrounds: np.ndarray,
    image_size: int,
    supersample: int = 2,
) -> np.ndarray:
    """Render one image per object.

    Parameters
    ----------
    shapes : sequence of str, length n
        Shape family of each object (names in ``SHAPES``).
    colours, backgrounds : ndarray, shape (n, 3)
        Object and background RGB colours in [0, 1].
    sizes : ndarray, shape (n,)
        Uniform scale of each object (1 fills about 3/4 of the image width).
    yaw, pitch : ndarray, shape (n,)
        Pose in degrees (see :func:`rotations`).
    image_size : int
        Output width and height in pixels.
    supersample : int
        Rays per pixel along each axis (anti-aliasing).

    Returns
    -------
    ndarray, shape (n, image_size, image_size, 3), uint8
    """
    resolution = image_size * supersample
    rays = camera_rays(resolution)  # (P, 3)
    camera = np.array([0.0, 0.0, CAMERA_DISTANCE])
    rotation = rotations(np.asarray(yaw, float), np.asarray(pitch, float))  # (n, 3, 3)
    sizes = np.asarray(sizes, float)
    shapes = np.asarray(shapes)
    backgrounds = np.asarray(backgrounds, float)
    canvas = np.repeat(backgrounds[:, None, :], rays.shape[0], axis=1)  # (n, P, 3)

    # Entry and exit of each ray through each object's bounding sphere.
    b = rays @ camera  # (P,)
    radius = BOUNDING_RADIUS * sizes  # (n,)
    discriminant = b[None, :] ** 2 - (camera @ camera - radius[:, None] ** 2)  # (n, P)
    for name in np.unique(shapes):
        sdf = SHAPES.get(str(name))
        objects = np.flatnonzero(shapes == name)
        obj, ray = np.nonzero(discriminant[objects] > 0.0)  # K (object, ray) pairs
        obj = objects[obj]
        root = np.sqrt(discriminant[obj, ray])
        inverse = np.swapaxes(rotation, 1, 2)[obj] / sizes[obj, None, None]  # (K, 3, 3)
        origins = inverse @ camera  # (K, 3)
        directions = np.einsum("kij,kj->ki", inverse, rays[ray])  # (K, 3)
        hit, t = _march(sdf, origins, directions, sizes[obj], -b[ray] - root, -b[ray] + root)
        obj, ray = obj[hit], ray[hit]
        local = origins[hit] + t[hit, None] * directions[hit]  # (H, 3)
        normals = np.einsum("hij,hj->hi", rotation[obj], _normals(sdf, local))  # (H, 3)
        light = AMBIENT + (1.0 - AMBIENT) * np.clip(normals @ LIGHT, 0.0, 1.0)  # (H,)
        canvas[obj, ray] = np.asarray(colours, float)[obj] * light[:, None]
    images = canvas.reshape(-1, image_size, supersample, image_size, supersample, 3).mean((2, 4))
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
