"""The simulated modalities, and the entry point that writes a simulated study's BIDS root.

``SIMULATORS`` maps ``study.options.simulated.modality`` to the callable that writes the
study's BIDS root: ``eeg``, ``meg`` and ``seeg`` are sensor arrays
(:class:`pipeline.simulate.sensors.SensorArray`) sharing one sensor simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

SIMULATORS = Registry("simulated modality", modules=(
    "pipeline.simulate.eeg",
    "pipeline.simulate.fmri_study",
    "pipeline.simulate.meg",
    "pipeline.simulate.seeg",
))


def simulate_study(cfg: SimulateConfig, out_dir: str | Path) -> None:
    """Simulate the study in ``cfg.modality`` and write its BIDS root into ``out_dir``.

    Raises
    ------
    ValueError
        If the modality is not registered; the message lists the known ones.
    """
    SIMULATORS.get(cfg.modality)(cfg, Path(out_dir))
