"""The parametric 3D generator: latent -> shape family, hue, size and pose -> 3D object.

Brain3D-style decoding reduced to what the simulated stimuli are made of: closed-form ridge
maps from the scaled target latent (L2-normalised, centred and scaled on the training
stimuli) to the one-hot shape family (decoded by arg max), the cosine and sine of the hue
and of the yaw, the size and the pitch. Each parameter gets its own penalty, chosen on the
validation stimuli; the object is then rebuilt from the parameters (surface points,
occupancy grid, meshes, views: :mod:`pipeline.generators.shape.geometry`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field
from safetensors.torch import save_file

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.generators import register_generator
from pipeline.generators.base import Generator, ShapeOutput, StimulusSet
from pipeline.generators.latents import LatentScaler
from pipeline.generators.ridge import RidgeMap
from pipeline.generators.shape.geometry import PARAMETERS, check_parameters, shape_output
from pipeline.io import read_json, write_json
from pipeline.weights import read_weights

logger = logging.getLogger(__name__)

NAME = "parametric"
WEIGHTS = "weights.safetensors"
GROUPS = ("shape", "hue", "size", "yaw", "pitch")  # one ridge map (and penalty) per parameter


class ParametricOptions(Section):
    """Fitting options of the parametric 3D generator."""

    alphas: list[float] = Field(
        [0.001, 0.01, 0.1, 1.0, 10.0, 100.0], min_length=1,
        description="ridge penalties (relative to the mean eigenvalue of the latents' Gram "
                    "matrix); validation picks one per parameter",
    )


class ParametricSampling(Section):
    """How the 3D objects are sampled from their predicted parameters (no refit)."""

    resolution: int = Field(32, ge=4, le=256, description="occupancy grid cells per axis")
    n_points: int = Field(512, ge=16, le=100_000, description="surface points per object")


def encode(table: pd.DataFrame, families: list[str]) -> dict[str, np.ndarray]:
    """The regression targets of each parameter group, (n, k) float64 each."""
    hue, yaw = np.deg2rad(table["hue"].to_numpy(float)), np.deg2rad(table["yaw"].to_numpy(float))
    return {
        "shape": (table["shape"].to_numpy()[:, None] == np.asarray(families)[None, :]) * 1.0,
        "hue": np.stack([np.cos(hue), np.sin(hue)], 1),
        "size": table[["size"]].to_numpy(float),
        "yaw": np.stack([np.cos(yaw), np.sin(yaw)], 1),
        "pitch": table[["pitch"]].to_numpy(float),
    }


@register_generator(NAME)
class ParametricGenerator(Generator):
    """Latent -> 3D parameters by ridge regression -> posed 3D object.

    Parameters
    ----------
    scaler : LatentScaler
        Normalisation of the latents, fitted on the training stimuli.
    maps : dict of str to RidgeMap
        One map per parameter group of :data:`GROUPS`.
    families : list of str
        Shape families of the training stimuli, in the order of the ``shape`` map's outputs.
    ranges : dict of str to (float, float)
        Training range of ``size`` and ``pitch``; predictions are clipped to it.
    options : ParametricOptions
    """

    kind: ClassVar[str] = "shape"
    Options: ClassVar[type[Section]] = ParametricOptions
    Sampling: ClassVar[type[Section]] = ParametricSampling
    COLUMNS: ClassVar[tuple[str, ...]] = PARAMETERS

    def __init__(self, scaler: LatentScaler, maps: dict[str, RidgeMap], families: list[str],
                 ranges: dict[str, tuple[float, float]], options: ParametricOptions) -> None:
        self.scaler = scaler
        self.maps = maps
        self.families = families
        self.ranges = ranges
        self.options = options

    @classmethod
    def fit(cls, options: ParametricOptions, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> ParametricGenerator:
        """Fit the ridge maps on ``train``; ``val`` picks each map's penalty (``seed`` unused).

        Raises
        ------
        DataError
            If ``stimuli.tsv`` lacks a 3D parameter column or has an unknown shape family, or
            if there are no validation stimuli.
        """
        for split in (train, val):
            split.require_columns(cls.COLUMNS, NAME)
            check_parameters(split.table, str(split.root / "stimuli.tsv"))
        if len(val) == 0 or len(train) < 2:
            raise DataError(f"{train.root / 'stimuli.tsv'}: generator {NAME!r} got "
                            f"{len(train)} train and {len(val)} val stimuli; expected at "
                            "least 2 train and 1 val stimulus")
        scaler = LatentScaler.fit(train.latents)
        x, x_val = scaler(train.latents, "train latents"), scaler(val.latents, "val latents")
        families = sorted(train.table["shape"].astype(str).unique())
        y, y_val = encode(train.table, families), encode(val.table, families)
        maps = {group: RidgeMap.fit(x, y[group], x_val, y_val[group], options.alphas,
                                    name=f"{NAME} {group}") for group in GROUPS}
        ranges = {column: (float(train.table[column].min()), float(train.table[column].max()))
                  for column in ("size", "pitch")}
        logger.info("%s: fitted on %d train stimuli (%d val), families %s", NAME, len(train),
                    len(val), ", ".join(families))
        return cls(scaler, maps, families, ranges, options)

    def predict_parameters(self, latents: np.ndarray) -> pd.DataFrame:
        """The 3D parameters predicted from latents (n, dim).

        Returns
        -------
        pandas.DataFrame
            One row per latent: shape, hue (degrees in [0, 360)), size, yaw (degrees in
            (-180, 180]), pitch (degrees).
        """
        x = self.scaler(np.asarray(latents), "latents given to the shape generator")
        out = {group: self.maps[group](x).astype(np.float64) for group in GROUPS}  # (n, k)
        hue = np.rad2deg(np.arctan2(out["hue"][:, 1], out["hue"][:, 0])) % 360.0
        return pd.DataFrame({
            "shape": np.asarray(self.families)[out["shape"].argmax(axis=1)],
            "hue": hue,
            "size": np.clip(out["size"][:, 0], *self.ranges["size"]),
            "yaw": np.rad2deg(np.arctan2(out["yaw"][:, 1], out["yaw"][:, 0])),
            "pitch": np.clip(out["pitch"][:, 0], *self.ranges["pitch"]),
        })

    def generate(self, latents: np.ndarray, sampling: ParametricSampling, seed: int,
                 ) -> ShapeOutput:
        """Predict each latent's parameters and build its object (deterministic; ``seed`` unused).

        Parameters
        ----------
        latents : ndarray, shape (n, dim)
            Latents of the target space, any scale.
        sampling : ParametricSampling
            Occupancy resolution and surface points per object.
        seed : int
            Unused: the output depends on the latents only.

        Returns
        -------
        ShapeOutput
        """
        parameters = self.predict_parameters(latents)
        logger.info("%s: %d objects (%s)", NAME, len(parameters),
                    ", ".join(f"{k} {v}" for k, v in parameters["shape"].value_counts().items()))
        return shape_output(parameters, sampling.resolution, sampling.n_points)

    def save(self, directory: Path) -> None:
        """Write ``config.json`` and ``weights.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = self.scaler.tensors()
        for group in GROUPS:
            tensors.update(self.maps[group].tensors(group))
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(directory / WEIGHTS))
        write_json({"generator": NAME, "kind": self.kind, "options": self.options.model_dump(),
                    "families": self.families, "ranges": self.ranges},
                   directory / "config.json")

    @classmethod
    def load(cls, directory: Path) -> ParametricGenerator:
        """Read a generator written by :meth:`save`."""
        directory = Path(directory)
        config = read_json(directory / "config.json")
        if config.get("generator") != NAME:
            raise DataError(f"{directory / 'config.json'}: generator {config.get('generator')!r}; "
                            f"expected {NAME!r}")
        tensors = read_weights(directory / WEIGHTS, "shape generator weights")
        maps = {group: RidgeMap.from_tensors(tensors, group) for group in GROUPS}
        ranges = {k: (float(low), float(high)) for k, (low, high) in config["ranges"].items()}
        return cls(LatentScaler.from_tensors(tensors), maps, list(config["families"]), ranges,
                   cls.parse_options(config["options"]))
