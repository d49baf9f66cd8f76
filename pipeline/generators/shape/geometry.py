"""3D objects from their parameters, posed as the renderer poses them.

The world frame is the renderer's (:mod:`pipeline.simulate.render`): x to the viewer's
right, y up, z towards the camera; an object of family ``shape`` is the zero level set of
its signed distance function (:data:`pipeline.simulate.shapes.SHAPES`, object frame,
bounding radius 1), scaled by ``size`` and rotated by :func:`~pipeline.simulate.render.rotations`
of its yaw and pitch: ``world = size * R(yaw, pitch) @ object``. Every object therefore lies
inside the cube [-1, 1]^3, over which occupancy grids are sampled.

Surface points are drawn once per family in the object frame (area-uniform on a marching-cubes
mesh, then projected onto the exact surface, with a fixed seed) and posed: two objects with the
same parameters have the very same points, so their Chamfer distance is exactly zero.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.generators.base import ShapeOutput
from pipeline.simulate.render import rotations
from pipeline.simulate.shapes import SHAPES

PARAMETERS = ("shape", "hue", "size", "yaw", "pitch")
MESH_RESOLUTION = 32  # samples per axis of the canonical (object-frame) marching-cubes grid
# The canonical grid spans [-MESH_EXTENT, MESH_EXTENT]^3 (surfaces close inside it); an extent
# off the shapes' round dimensions keeps grid samples off their faces, where marching cubes
# would put coincident vertices (meshes that are not watertight once vertices are merged).
MESH_EXTENT = 1.0571
POINT_SEED = 0  # surface points are the same for every run and every object of a family
PROJECTION_STEPS = 3
GRADIENT_STEP = 1e-4


def check_parameters(parameters: pd.DataFrame, source: str) -> None:
    """Raise a DataError if ``parameters`` lacks a column of :data:`PARAMETERS` or a family.

    Parameters
    ----------
    parameters : pandas.DataFrame
        One row per object.
    source : str
        Where the table comes from, for the message.
    """
    missing = [column for column in PARAMETERS if column not in parameters.columns]
    if missing:
        raise DataError(f"{source}: missing 3D parameter columns {', '.join(missing)}; "
                        f"expected {', '.join(PARAMETERS)}")
    unknown = sorted(set(parameters["shape"].astype(str)) - set(SHAPES.names()))
    if unknown:
        raise DataError(f"{source}: unknown shape families {', '.join(unknown)}; expected "
                        f"one of {', '.join(SHAPES.names())}")


def grid_centres(resolution: int) -> np.ndarray:
    """Cell centres of a ``resolution``^3 grid over [-1, 1]^3, 'ij' order (x, y, z).

    Returns
    -------
    ndarray, shape (resolution ** 3, 3)
    """
    axis = (np.arange(resolution) + 0.5) / resolution * 2.0 - 1.0
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _gradient(shape: str, points: np.ndarray) -> np.ndarray:
    """Central-difference gradient of a family's SDF at object-frame ``points`` (m, 3)."""
    sdf = SHAPES.get(shape)
    gradient = np.empty_like(points)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = GRADIENT_STEP
        gradient[:, axis] = (sdf(points + step) - sdf(points - step)) / (2 * GRADIENT_STEP)
    return gradient


def project_to_surface(shape: str, points: np.ndarray) -> np.ndarray:
    """Move object-frame ``points`` (m, 3) onto the family's zero level set (Newton steps)."""
    sdf = SHAPES.get(shape)
    for _ in range(PROJECTION_STEPS):
        gradient = _gradient(shape, points)  # (m, 3)
        norm2 = np.maximum(np.sum(gradient**2, axis=1, keepdims=True), 1e-12)
        points = points - sdf(points)[:, None] * gradient / norm2
    return points


@functools.cache
def canonical_mesh(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """The marching-cubes mesh of a family in the object frame (cached, read-only).

    Returns
    -------
    vertices : ndarray, shape (n_vertices, 3), float64
        On the exact surface; faces wound counter-clockwise seen from outside.
    faces : ndarray, shape (n_faces, 3), int64
    """
    from skimage.measure import marching_cubes

    axis = np.linspace(-MESH_EXTENT, MESH_EXTENT, MESH_RESOLUTION)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    values = SHAPES.get(shape)(grid).reshape((MESH_RESOLUTION,) * 3)
    spacing = (axis[1] - axis[0],) * 3
    vertices, faces, _, _ = marching_cubes(values, 0.0, spacing=spacing)
    vertices = project_to_surface(shape, vertices - MESH_EXTENT)
    faces = faces.astype(np.int64)
    vertices.flags.writeable = False
    faces.flags.writeable = False
    return vertices, faces


@functools.cache
def canonical_points(shape: str, n_points: int) -> np.ndarray:
    """``n_points`` points spread uniformly over a family's surface, object frame (cached).

    Returns
    -------
    ndarray, shape (n_points, 3), float64
    """
    vertices, faces = canonical_mesh(shape)
    corners = vertices[faces]  # (n_faces, 3, 3)
    areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                    corners[:, 2] - corners[:, 0]), axis=1)
    rng = np.random.default_rng(POINT_SEED)
    chosen = rng.choice(len(faces), size=n_points, p=areas / areas.sum())
    u, v = rng.random((2, n_points))
    flip = u + v > 1.0  # fold the unit square onto the triangle
    u, v = np.where(flip, 1.0 - u, u), np.where(flip, 1.0 - v, v)
    tri = corners[chosen]  # (n_points, 3, 3)
    points = tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + v[:, None] * (tri[:, 2] - tri[:, 0])
    points = project_to_surface(shape, points)
    points.flags.writeable = False
    return points


def pose(parameters: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and scale of every object. Returns (n, 3, 3) rotations and (n,) sizes."""
    rotation = rotations(parameters["yaw"].to_numpy(float), parameters["pitch"].to_numpy(float))
    return rotation, parameters["size"].to_numpy(float)


def surface_points(parameters: pd.DataFrame, n_points: int) -> np.ndarray:
    """Points on each object's surface in the world frame.

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, size, yaw, pitch; one row per object.
    n_points : int
        Points per object.

    Returns
    -------
    ndarray, shape (n, n_points, 3), float32
    """
    if len(parameters) == 0:
        return np.zeros((0, n_points, 3), np.float32)
    rotation, size = pose(parameters)
    local = np.stack([canonical_points(str(s), n_points) for s in parameters["shape"]])
    world = np.einsum("nij,npj->npi", rotation, local) * size[:, None, None]  # (n, P, 3)
    return world.astype(np.float32)


def occupancy(parameters: pd.DataFrame, resolution: int) -> np.ndarray:
    """Which cells of a grid over [-1, 1]^3 each object fills (cell centres inside).

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, size, yaw, pitch; one row per object.
    resolution : int
        Cells per axis.

    Returns
    -------
    ndarray, shape (n, resolution, resolution, resolution), bool
        Axes in x, y, z order.
    """
    rotation, size = pose(parameters)
    centres = grid_centres(resolution)  # (G, 3)
    shapes = parameters["shape"].astype(str).to_numpy()
    grids = np.zeros((len(parameters), centres.shape[0]), dtype=bool)
    for name in np.unique(shapes):
        rows = np.flatnonzero(shapes == name)
        # object = R^T world / size; as row vectors: world @ R / size
        local = np.einsum("gj,nji->ngi", centres, rotation[rows]) / size[rows, None, None]
        grids[rows] = (SHAPES.get(name)(local.reshape(-1, 3)) < 0.0).reshape(len(rows), -1)
    return grids.reshape(len(parameters), resolution, resolution, resolution)


def shape_output(parameters: pd.DataFrame, resolution: int, n_points: int) -> ShapeOutput:
    """The surface points and occupancy of objects given by their parameters.

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, hue, size, yaw, pitch; one row per object.
    resolution, n_points : int
        Occupancy grid cells per axis and surface points per object.

    Returns
    -------
    ShapeOutput
    """
    table = parameters.loc[:, list(PARAMETERS)].reset_index(drop=True)
    return ShapeOutput(table, surface_points(table, n_points), occupancy(table, resolution))


def true_shapes(table: pd.DataFrame, resolution: int = 32, n_points: int = 512,
                source: str = "stimuli.tsv") -> ShapeOutput:
    """The true 3D objects of stimuli, from their parameters (what 3D metrics compare with).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of ``stimuli.tsv`` with columns shape, hue, size, yaw, pitch.
    resolution, n_points : int
        As the generated objects' (``generate.sampling`` of the shape generator).
    source : str
        The table's file, for error messages.

    Returns
    -------
    ShapeOutput

    Raises
    ------
    DataError
        If a column is missing or a family is unknown.
    """
    check_parameters(table, source)
    return shape_output(table, resolution, n_points)
