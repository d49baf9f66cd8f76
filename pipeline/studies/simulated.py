"""The built-in simulated EEG study (no download)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.studies import STUDIES

if TYPE_CHECKING:
    from pipeline.config import SimulateConfig


@STUDIES.register("simulated")
class SimulatedStudy:
    """Images of parametric 3D objects, EEG responses through a sphere head model."""

    def generate(self, cfg: SimulateConfig, out_dir: Path) -> None:
        """Simulate the study and write its BIDS root (:func:`pipeline.simulate.simulate_study`)."""
        from pipeline.simulate import simulate_study  # imports MNE only when generating

        simulate_study(cfg, out_dir)
