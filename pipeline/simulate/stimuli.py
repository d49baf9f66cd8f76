"""Stimuli of the simulated study: sampled 3D parameters, captions, images and latents.

Each stimulus is one object (shape family, colour, size, yaw, pitch) on a coloured
background. Its caption is derived from the parameters (for example "a large red cube
turned left on a blue background") and its latent vector is what generates the brain
response in :mod:`pipeline.simulate.responses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.colors import hsv_to_rgb

from pipeline.simulate.render import render
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.shapes import SHAPES

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

COLOURS = {  # name -> hue in degrees
    "red": 0.0,
    "orange": 30.0,
    "yellow": 58.0,
    "green": 120.0,
    "cyan": 185.0,
    "blue": 225.0,
    "purple": 275.0,
    "magenta": 315.0,
}
SATURATION, VALUE = 0.85, 0.95
BACKGROUNDS = {  # name -> RGB
    "black": (0.06, 0.06, 0.06),
    "grey": (0.5, 0.5, 0.5),
    "white": (0.94, 0.94, 0.94),
    "blue": (0.22, 0.32, 0.62),
    "green": (0.28, 0.5, 0.3),
    "brown": (0.45, 0.32, 0.2),
}
SIZE_RANGE = (0.55, 1.0)
YAW_RANGE = (-60.0, 60.0)  # degrees
PITCH_RANGE = (-30.0, 30.0)  # degrees
# Caption words: value < edges[0] -> words[0], edges[0] <= value < edges[1] -> words[1], ...
SIZE_WORDS = ((0.7, 0.85), ("small", "medium", "large"))
YAW_WORDS = ((-20.0, 20.0), ("turned left", "facing forward", "turned right"))
PITCH_WORDS = ((-15.0, 15.0), ("tilted down", "", "tilted up"))
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Stimuli:
    """The stimulus set of a simulated study.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per stimulus: stimulus_id, split, image, caption, shape, colour, hue, size,
        yaw, pitch, background.
    images : ndarray, shape (n_stimuli, image_size, image_size, 3), uint8
    latents : ndarray, shape (n_stimuli, n_latents), float32
        The generating latent vector of each stimulus, rows in table order.
    latent_names : tuple of str
        The name of each latent dimension.
    """

    table: pd.DataFrame
    images: np.ndarray
    latents: np.ndarray
    latent_names: tuple[str, ...]


def _word(values: np.ndarray, words: tuple[tuple[float, ...], tuple[str, ...]]) -> np.ndarray:
    edges, names = words
    return np.asarray(names)[np.digitize(values, edges)]


def captions(table: pd.DataFrame) -> list[str]:
    """Describe each stimulus in words from its parameters.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns shape, colour, size, yaw, pitch, background.

    Returns
    -------
    list of str
        For example "a large red cube turned left and tilted up on a blue background".
    """
    size = _word(table["size"].to_numpy(), SIZE_WORDS)
    yaw = _word(table["yaw"].to_numpy(), YAW_WORDS)
    pitch = _word(table["pitch"].to_numpy(), PITCH_WORDS)
    pose = [f"{y} and {p}" if p else y for y, p in zip(yaw, pitch, strict=True)]
    return [
        f"a {s} {c} {shape} {o} on a {b} background"
        for s, c, shape, o, b in zip(
            size, table["colour"], table["shape"], pose, table["background"], strict=True
        )
    ]


def sample_parameters(cfg: SimulateConfig) -> pd.DataFrame:
    """Draw the 3D parameters and the split of every stimulus (seeded by ``cfg.seed``).

    Shape families are balanced; the background never has the object's colour name.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed`` and ``stimuli`` (the number of train, val and test stimuli).

    Returns
    -------
    pandas.DataFrame
        One row per stimulus, ordered by stimulus_id: stimulus_id, split, image, caption,
        shape, colour, hue (degrees), size, yaw (degrees), pitch (degrees), background.
    """
    rng = make_rng(cfg.seed, "stimuli")
    counts = [getattr(cfg.stimuli, split) for split in SPLITS]
    n = sum(counts)
    width = max(4, len(str(n - 1)))
    ids = [f"stim{i:0{width}d}" for i in range(n)]
    shapes = rng.permutation(np.resize(np.asarray(SHAPES.names()), n))
    colours = rng.choice(list(COLOURS), size=n)
    backgrounds = [rng.choice([b for b in BACKGROUNDS if b != c]) for c in colours]
    split = np.empty(n, dtype=object)
    split[rng.permutation(n)] = np.repeat(SPLITS, counts)
    table = pd.DataFrame(
        {
            "stimulus_id": ids,
            "split": split,
            "image": [f"images/{i}.png" for i in ids],
            "shape": shapes,
            "colour": colours,
            "hue": [COLOURS[c] for c in colours],
            "size": rng.uniform(*SIZE_RANGE, size=n),
            "yaw": rng.uniform(*YAW_RANGE, size=n),
            "pitch": rng.uniform(*PITCH_RANGE, size=n),
            "background": backgrounds,
        }
    )
    table.insert(3, "caption", captions(table))
    return table


def latent_vectors(table: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """The generating latent vector of each stimulus.

    Layout: one-hot shape family (``SHAPES`` order), cos and sin of the hue, the size mapped
    to [-1, 1], cos and sin of the yaw, the pitch mapped to [-1, 1], one-hot background.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns shape, hue, size, yaw, pitch, background.

    Returns
    -------
    latents : ndarray, shape (n_stimuli, n_latents), float32
    names : tuple of str
        The name of each column of ``latents``.
    """
    shapes, backgrounds = SHAPES.names(), list(BACKGROUNDS)
    hue = np.deg2rad(table["hue"].to_numpy(float))
    yaw = np.deg2rad(table["yaw"].to_numpy(float))
    low, high = SIZE_RANGE
    columns = [
        table["shape"].to_numpy()[:, None] == np.asarray(shapes)[None, :],
        np.cos(hue)[:, None],
        np.sin(hue)[:, None],
        (2.0 * (table["size"].to_numpy(float) - low) / (high - low) - 1.0)[:, None],
        np.cos(yaw)[:, None],
        np.sin(yaw)[:, None],
        (table["pitch"].to_numpy(float) / PITCH_RANGE[1])[:, None],
        table["background"].to_numpy()[:, None] == np.asarray(backgrounds)[None, :],
    ]
    names = (
        *(f"shape_{s}" for s in shapes), "hue_cos", "hue_sin", "size", "yaw_cos", "yaw_sin",
        "pitch", *(f"background_{b}" for b in backgrounds),
    )
    return np.concatenate(columns, axis=1).astype(np.float32), names


def render_table(table: pd.DataFrame, image_size: int) -> np.ndarray:
    """Render the image of every stimulus row. Returns (n, image_size, image_size, 3) uint8."""
    hsv = np.stack(
        [table["hue"].to_numpy(float) / 360.0, np.full(len(table), SATURATION),
         np.full(len(table), VALUE)], -1,
    )
    return render(
        shapes=table["shape"].tolist(),
        colours=hsv_to_rgb(hsv),
        sizes=table["size"].to_numpy(float),
        yaw=table["yaw"].to_numpy(float),
        pitch=table["pitch"].to_numpy(float),
        backgrounds=np.asarray([BACKGROUNDS[b] for b in table["background"]]),
        image_size=image_size,
    )


def make_stimuli(cfg: SimulateConfig) -> Stimuli:
    """Sample, caption, render and encode the stimuli of a simulated study.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed``, ``stimuli`` and ``image_size``.

    Returns
    -------
    Stimuli
    """
    table = sample_parameters(cfg)
    latents, names = latent_vectors(table)
    return Stimuli(table, render_table(table, cfg.image_size), latents, names)
