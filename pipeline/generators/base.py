"""What every generator shares: the stimuli it learns from, its outputs, its interface.

A generator turns latents of the study's target space (one row per stimulus) into an
image, a caption or a 3D object. It is fitted on the *training* stimuli only (their
target latents and their images, captions or 3D parameters), so a test stimulus is never
seen by the generator either, and it accepts any latents of that space: predicted by a
brain decoder, or the true ones (the generator's ceiling).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import read_rgb


@dataclass(frozen=True)
class StimulusSet:
    """Stimuli with their target latents, as generators read them.

    Attributes
    ----------
    root : Path
        The study's ``stimuli/`` folder; ``table["image"]`` paths are relative to it.
    table : pandas.DataFrame
        The rows of ``stimuli.tsv`` (stimulus_id, split, image, caption, and for the simulated
        study the 3D parameters shape, colour, hue, size, yaw, pitch, background).
    latents : ndarray, shape (n_stimuli, dim), float32
        The target latent of each row of ``table``.
    """

    root: Path
    table: pd.DataFrame
    latents: np.ndarray

    def __post_init__(self) -> None:
        if self.latents.ndim != 2 or self.latents.shape[0] != len(self.table):
            raise DataError(
                f"{self.root}: got latents of shape {self.latents.shape} for {len(self.table)} "
                "stimuli; expected one latent row per stimulus"
            )

    def __len__(self) -> int:
        return len(self.table)

    def split(self, name: str) -> StimulusSet:
        """The stimuli of one split ("train", "val" or "test"), in table order."""
        keep = (self.table["split"] == name).to_numpy()
        return StimulusSet(self.root, self.table[keep].reset_index(drop=True), self.latents[keep])

    def require_columns(self, columns: tuple[str, ...], generator: str) -> None:
        """Raise a DataError naming the columns of ``stimuli.tsv`` a generator needs and lacks."""
        missing = [column for column in columns if column not in self.table.columns]
        if missing:
            raise DataError(
                f"{self.root / 'stimuli.tsv'}: generator {generator!r} needs columns "
                f"{', '.join(columns)}; missing {', '.join(missing)} (leave its kind out of "
                "generators.kinds for this study)"
            )

    def images(self, size: int) -> np.ndarray:
        """Read every stimulus image as RGB, resized to ``size`` x ``size``.

        Returns
        -------
        ndarray, shape (n_stimuli, size, size, 3), uint8

        Raises
        ------
        DataError
            If the table has no ``image`` column (a study of sounds, say).
        """
        self.require_columns(("image",), "image generator")
        return np.stack([read_image(self.root / name, size) for name in self.table["image"]])


def read_image(path: Path, size: int) -> np.ndarray:
    """Read one image as RGB ``size`` x ``size`` uint8 (bilinear, box-filtered when shrinking).

    Raises
    ------
    DataError
        If the file is missing or is not an image.
    """
    rgb = read_rgb(path)
    rgb = rgb.resize((size, size), Image.Resampling.BOX if rgb.width > size
                     else Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)  # (size, size, 3)


@dataclass(frozen=True)
class ImageOutput:
    """Generated images. ``images``: (n, size, size, 3) uint8, one per input latent."""

    images: np.ndarray


@dataclass(frozen=True)
class TextOutput:
    """Generated captions, one per input latent."""

    captions: list[str]


@dataclass(frozen=True)
class ShapeOutput:
    """Generated 3D objects, one per input latent.

    Attributes
    ----------
    parameters : pandas.DataFrame
        One row per object: shape (family name), hue (degrees), size, yaw, pitch (degrees).
    points : ndarray, shape (n, n_points, 3), float32
        Points on each object's surface, posed and scaled, in the renderer's world frame.
    occupancy : ndarray, shape (n, res, res, res), bool
        Each object's occupancy grid over the cube [-1, 1]^3 of that frame.
    """

    parameters: pd.DataFrame
    points: np.ndarray
    occupancy: np.ndarray


class Generator(ABC):
    """A generator of one kind ("image", "text" or "shape"), fitted on training stimuli.

    Subclasses set ``kind``, ``Options`` (a pydantic ``Section`` of the fitting options in
    ``generators.<kind>.options.<name>``) and ``Sampling`` (the options of
    ``generate.sampling.<name>``, which change outputs without refitting), and implement
    ``fit``, ``save``, ``load`` and ``generate``. Weights are saved as safetensors beside a
    ``config.json``; nothing is pickled.
    """

    kind: ClassVar[str]
    Options: ClassVar[type[Section]]
    Sampling: ClassVar[type[Section]]

    @classmethod
    def parse_options(cls, raw: dict[str, Any]) -> Section:
        """Validate this generator's options (unknown keys are errors)."""
        from pipeline.config import validate_options

        return validate_options(cls.Options, raw, cls.__name__)

    @classmethod
    def parse_sampling(cls, raw: dict[str, Any]) -> Section:
        """Validate this generator's sampling options (unknown keys are errors)."""
        from pipeline.config import validate_options

        return validate_options(cls.Sampling, raw, cls.__name__)

    @classmethod
    @abstractmethod
    def fit(cls, options: Section, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> Generator:
        """Fit on the training stimuli; ``val`` is for early stopping and selection only.

        ``checkpoint_dir``, if given, is where a generator with checkpointed training
        (``diffusion``) keeps them, so that a fit killed part way resumes when started
        again; the others fit in one go and ignore it.
        """

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the fitted generator (``config.json`` + safetensors) into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Generator:
        """Read a generator written by :meth:`save`."""

    @abstractmethod
    def generate(self, latents: np.ndarray, sampling: Section, seed: int
                 ) -> ImageOutput | TextOutput | ShapeOutput:
        """Generate one output per row of ``latents`` (n, dim), deterministically per ``seed``."""

    def generate_projected(self, latents: np.ndarray, projected: np.ndarray, sampling: Section,
                           seed: int) -> ImageOutput | TextOutput | ShapeOutput:
        """Generate from latents and their projection by the training-latent prior.

        By default the projected latents alone are generated from; a generator with a
        low-level branch keeps the unprojected latents for it (the projection trades the
        decoded layout for a plausible stimulus's).

        Parameters
        ----------
        latents, projected : ndarray, shape (n, dim)
            Predicted latents and :func:`pipeline.generators.latent_prior.project_on_training`
            of them.
        """
        return self.generate(projected, sampling, seed)
