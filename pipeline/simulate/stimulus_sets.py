"""What a simulated study's subjects perceive: a stimulus set and the sources it drives.

``STIMULUS_SETS`` maps ``study.options.simulated.stimulus`` to a function
``make(cfg) -> StimulusSet``: ``images`` (parametric 3D objects, :mod:`pipeline.simulate.stimuli`)
or ``speech`` (spoken sentences cut into segments, :mod:`pipeline.simulate.speech_stimuli`).
The sensor simulator (:func:`pipeline.simulate.study.simulate_sensor_study`) only needs the
stimulus table, the files to write and each stimulus' source activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from pipeline.registry import Registry
from pipeline.simulate.bids import IMAGES, TASK, write_stimuli
from pipeline.simulate.responses import make_response_model, source_activity
from pipeline.simulate.stimuli import Stimuli, make_stimuli

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig


class StimulusSet(Protocol):
    """A simulated study's stimuli, as the sensor simulator uses them.

    Attributes
    ----------
    task : str
        The BIDS task label of the recordings.
    summary : tuple of str
        What the stimuli are and what the subjects did, for the dataset description
        (:func:`pipeline.simulate.bids.write_description`).
    """

    task: str
    summary: tuple[str, str]

    @property
    def table(self) -> pd.DataFrame:
        """One row per stimulus, in source-activity order: stimulus_id, split, ..."""

    def write(self, root: Path) -> None:
        """Write ``stimuli/`` (stimuli.tsv, the media, latents.npy) under the BIDS root."""

    def source_activity(self, cfg: SimulateConfig) -> np.ndarray:
        """Noiseless source time courses from each onset. Returns (n_stimuli, n_sources, T)."""


STIMULUS_SETS: Registry = Registry("simulated stimulus", modules=(
    "pipeline.simulate.stimulus_sets",
    "pipeline.simulate.speech_stimuli",
))


@dataclass(frozen=True)
class ImageSet:
    """Images of parametric 3D objects; each evokes ``tanh(w . z + b)``-scaled kernels."""

    stimuli: Stimuli
    task = TASK
    summary = IMAGES

    @property
    def table(self) -> pd.DataFrame:
        """stimulus_id, split, image, caption and the 3D parameters."""
        return self.stimuli.table

    def write(self, root: Path) -> None:
        """Write stimuli.tsv, images/ and latents.npy."""
        write_stimuli(root, self.stimuli)

    def source_activity(self, cfg: SimulateConfig) -> np.ndarray:
        """Each image's evoked source activity. Returns (n_stimuli, n_sources, n_times)."""
        latents = self.stimuli.latents
        model = make_response_model(cfg.seed, cfg.n_sources, latents.shape[1], cfg.sfreq)
        return source_activity(model, latents)


@STIMULUS_SETS.register("images")
def make_image_set(cfg: SimulateConfig) -> ImageSet:
    """Sample and render the image stimuli (:func:`pipeline.simulate.stimuli.make_stimuli`)."""
    return ImageSet(make_stimuli(cfg))

