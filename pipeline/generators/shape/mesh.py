"""Meshes of 3D objects (trimesh), posed and coloured, and their export to .ply and .obj."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import hsv_to_rgb

from pipeline.generators.shape.geometry import canonical_mesh, check_parameters, pose
from pipeline.simulate.stimuli import SATURATION, VALUE

logger = logging.getLogger(__name__)

FORMATS = ("ply", "obj")


def colours(parameters: pd.DataFrame) -> np.ndarray:
    """The stimulus colour of each object's hue. Returns (n, 3) RGB in [0, 1]."""
    hsv = np.stack([parameters["hue"].to_numpy(float) % 360.0 / 360.0,
                    np.full(len(parameters), SATURATION), np.full(len(parameters), VALUE)], -1)
    return hsv_to_rgb(hsv)


def meshes(parameters: pd.DataFrame) -> list:
    """One watertight triangle mesh per object, posed in the renderer's world frame.

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, hue, size, yaw, pitch; one row per object.

    Returns
    -------
    list of trimesh.Trimesh
        Vertices in world units (inside [-1, 1]^3), coloured by the object's hue.
    """
    import trimesh

    check_parameters(parameters, "3D parameters")
    rotation, size = pose(parameters)
    rgba = np.round(np.concatenate([colours(parameters), np.ones((len(parameters), 1))], 1) * 255)
    out = []
    for row, shape in enumerate(parameters["shape"].astype(str)):
        vertices, faces = canonical_mesh(shape)
        world = vertices @ rotation[row].T * size[row]  # (n_vertices, 3)
        colour = np.tile(rgba[row].astype(np.uint8), (len(vertices), 1))  # (n_vertices, 4)
        out.append(trimesh.Trimesh(world, faces.copy(), vertex_colors=colour, process=False))
    return out


def export_meshes(parameters: pd.DataFrame, names: Sequence[str], directory: Path,
                  formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write each object's mesh as ``<directory>/<name>.<format>``.

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, hue, size, yaw, pitch; one row per object.
    names : sequence of str
        One file stem per object (for example the stimulus ids).
    directory : Path
        Created if needed.
    formats : sequence of {"ply", "obj"}
        File formats (binary PLY with vertex colours; Wavefront OBJ).

    Returns
    -------
    list of Path
        The files written, object by object.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or len(names) != len(parameters):
        raise ValueError(f"export_meshes: got formats {list(formats)} and {len(names)} names for "
                         f"{len(parameters)} objects; expected formats among {FORMATS}, one name "
                         "per object")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, mesh in zip(names, meshes(parameters), strict=True):
        for fmt in formats:
            path = directory / f"{name}.{fmt}"
            mesh.export(path, file_type=fmt)
            paths.append(path)
    logger.info("wrote %d meshes (%s) to %s", len(parameters), ", ".join(formats), directory)
    return paths
