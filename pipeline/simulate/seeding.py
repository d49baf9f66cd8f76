"""Independent, reproducible random streams for the simulator.

Every part of the simulation draws from its own stream, keyed by the study seed, a stream
name and optional integers (a subject index, a chunk index), so changing one part (say the
number of subjects) never changes the random draws of another (the stimuli).
"""

from __future__ import annotations

import zlib

import numpy as np


def make_rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """Return the random generator of one named stream.

    Parameters
    ----------
    seed : int
        The study seed (``simulate.seed``), non-negative.
    stream : str
        The name of the stream ("stimuli", "noise", ...).
    *keys : int
        Further non-negative integers that select a sub-stream (subject index, chunk index).

    Returns
    -------
    numpy.random.Generator
        A generator that depends only on ``seed``, ``stream`` and ``keys``.
    """
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), *keys])
