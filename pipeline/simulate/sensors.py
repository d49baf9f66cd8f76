"""What a simulated sensor array is: channels, gains, noise units, and how BIDS stores it.

Each recording modality of the sensor simulator (EEG, MEG, sEEG) is a :class:`SensorArray`
registered in ``SIMULATORS`` under its modality name; calling it simulates a whole study
(:func:`pipeline.simulate.study.simulate_sensor_study`). Everything else in the simulator
(responses, noise, schedule, oracle) is the same for every array.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    import mne

    from pipeline.simulate.forward import Head, HeadTemplate
    from pipeline.simulate.options import SimulateConfig


class SensorArray(ABC):
    """A simulated recording modality.

    Attributes
    ----------
    label : str
        Name of the modality in messages and in the dataset description ("EEG").
    datatype : str
        The BIDS datatype folder and file suffix ("eeg", "meg", "ieeg").
    bids_format : str
        The file format mne-bids writes ("BrainVision", "FIF").
    extension : str
        The extension of the written recording (".vhdr", ".fif").
    description : str
        One sentence on the sensors and the forward model, for the dataset README.
    """

    label: ClassVar[str]
    datatype: ClassVar[str]
    bids_format: ClassVar[str]
    extension: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def make_template(self, cfg: SimulateConfig) -> HeadTemplate:
        """Build the channels, the conductor and the template brain's source groups.

        The groups must include "evoked" (``cfg.n_sources`` dipoles), "alpha" and "noise".
        """

    @abstractmethod
    def gains(
        self, template: HeadTemplate, positions: np.ndarray, orientations: np.ndarray
    ) -> np.ndarray:
        """Sensor gains of fixed dipoles: (n, 3) positions and orientations -> (n_channels, n)."""

    @abstractmethod
    def noise_units(self, info: mne.Info) -> np.ndarray:
        """The SI value of one noise unit on each channel (volts, tesla, tesla/metre). (C,)"""

    def blink_topography(self, template: HeadTemplate, head: Head) -> np.ndarray:
        """Peak blink of each channel, in noise units per unit of ``blink_amplitude``. (C,)

        Zero (no blinks) unless the array overrides it.
        """
        return np.zeros(template.n_channels)

    def write_options(self, info: mne.Info) -> dict[str, object]:
        """Extra keyword arguments of ``mne_bids.write_raw_bids`` for recordings of ``info``."""
        return {}

    def __call__(self, cfg: SimulateConfig, out_dir: Path) -> None:
        """Simulate a study recorded with this array and write its BIDS root."""
        from pipeline.simulate.study import simulate_sensor_study  # study imports this module

        simulate_sensor_study(cfg, Path(out_dir), self)


def channel_groups(info: mne.Info) -> np.ndarray:
    """Index of each channel's type among the info's types, in order of first appearance. (C,)

    Quantities normalised "per channel type" (mag and grad, say) are normalised within
    each group.
    """
    types = info.get_channel_types()
    order = list(dict.fromkeys(types))
    return np.array([order.index(name) for name in types], dtype=np.int64)


def unit_mean_square(values: np.ndarray, good: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Scale ``values`` (C,) so each channel type's good channels have a mean square of 1."""
    scale = np.ones(len(values))
    for group in np.unique(groups):
        members = groups == group
        scale[members] = np.sqrt(np.mean(values[members & good] ** 2))
    return values / scale
