"""The built-in simulator: parametric 3D stimuli -> cortical sources -> EEG sensors (BIDS)."""

from pipeline.simulate.study import simulate_study

__all__ = ["simulate_study"]
