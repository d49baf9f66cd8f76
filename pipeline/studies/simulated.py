"""The built-in simulated study (no download)."""

from __future__ import annotations

from pathlib import Path

from pipeline.simulate.options import SimulateConfig
from pipeline.studies import STUDIES


@STUDIES.register("simulated")
class SimulatedStudy:
    """Images of parametric 3D objects and the brain responses they evoke, simulated."""

    options = SimulateConfig

    def generate(self, options: SimulateConfig, out_dir: Path) -> None:
        """Simulate the study and write its BIDS root (:func:`pipeline.simulate.simulate_study`)."""
        from pipeline.simulate.modalities import simulate_study  # imports MNE only when generating

        simulate_study(options, out_dir)
