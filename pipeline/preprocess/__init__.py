"""Preprocessing: raw BIDS recordings -> epochs.npy, trials.tsv, info.json (steps are data)."""

from pipeline.registry import Registry

STEPS = Registry("preprocessing step")

from pipeline.preprocess import steps_epochs, steps_raw  # noqa: E402, F401  (steps register themselves)
from pipeline.preprocess.eeg_meg import preprocess_study  # noqa: E402

__all__ = ["STEPS", "preprocess_study"]
