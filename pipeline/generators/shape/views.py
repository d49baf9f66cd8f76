"""Images of 3D objects seen from several viewpoints, by the stimulus renderer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.generators.shape.geometry import check_parameters
from pipeline.simulate.stimuli import BACKGROUNDS, render_table


def render_views(parameters: pd.DataFrame, yaws: Sequence[float] = (0.0,), image_size: int = 64,
                 background: str = "white") -> np.ndarray:
    """Render each object as the stimuli are rendered, turned by each of ``yaws``.

    Turning the camera about the vertical axis by ``-a`` is turning the object by ``a``, so
    view ``a`` renders the object at yaw ``yaw + a``: view 0 is the stimulus's viewpoint, and
    with the true parameters and the stimulus background it gives the stimulus image.

    Parameters
    ----------
    parameters : pandas.DataFrame
        Columns shape, hue, size, yaw, pitch; one row per object.
    yaws : sequence of float
        View angles in degrees, added to each object's yaw.
    image_size : int
        Width and height of each view in pixels.
    background : str
        A background name of the stimuli (``pipeline.simulate.stimuli.BACKGROUNDS``).

    Returns
    -------
    ndarray, shape (n, n_views, image_size, image_size, 3), uint8
    """
    check_parameters(parameters, "3D parameters")
    if background not in BACKGROUNDS:
        raise ValueError(f"render_views: unknown background {background!r}; expected one of "
                         f"{', '.join(BACKGROUNDS)}")
    n, views = len(parameters), len(yaws)
    table = parameters.iloc[np.repeat(np.arange(n), views)].reset_index(drop=True)
    table["yaw"] = table["yaw"].to_numpy(float) + np.tile(np.asarray(yaws, float), n)
    table["background"] = background
    images = render_table(table, image_size)  # (n * views, S, S, 3)
    return images.reshape(n, views, image_size, image_size, 3)
