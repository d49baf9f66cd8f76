"""The built-in simulator: parametric 3D stimuli -> cortical sources -> sensors or voxels (BIDS).

``SIMULATORS`` maps ``study.options.simulated.modality`` to the callable that writes the
study's BIDS root: ``eeg``, ``meg`` and ``seeg`` are sensor arrays
(:class:`pipeline.simulate.sensors.SensorArray`) sharing one sensor simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.config import SimulateConfig

SIMULATORS = Registry("simulated modality")

from pipeline.simulate import eeg, fmri_study, meg, seeg  # noqa: E402, F401  (modalities register)


def simulate_study(cfg: SimulateConfig, out_dir: str | Path) -> None:
    """Simulate the study in ``cfg.modality`` and write its BIDS root into ``out_dir``.

    Raises
    ------
    ValueError
        If the modality is not registered; the message lists the known ones.
    """
    SIMULATORS.get(cfg.modality)(cfg, Path(out_dir))


__all__ = ["SIMULATORS", "simulate_study"]
