"""The event-related design of the simulated fMRI study: trials dealt into runs.

Every subject sees every stimulus (train and val once, test ``test_repetitions`` times) in
an order shuffled per subject, dealt into as few runs of at most about ``fmri.run_duration``
seconds as hold them (equal numbers of trials per run). Within a run, onsets are separated by
intervals drawn uniformly from ``fmri.isi``, after ``LEAD_IN`` seconds; each run ends
``LEAD_OUT`` seconds after its last offset, so the last response is recorded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pipeline.simulate.options import FmriConfig, SimulateConfig

LEAD_IN = 8.0  # seconds before the first onset of a run
LEAD_OUT = 16.0  # seconds after the last offset (the HRF's tail)


def trials_per_run(cfg: FmriConfig) -> int:
    """How many trials fit in a run of ``run_duration`` at the mean interval (at least 1)."""
    usable = cfg.run_duration - LEAD_IN - LEAD_OUT - cfg.event_duration
    return max(1, int(usable // float(np.mean(cfg.isi))) + 1)


def run_onsets(n_trials: int, cfg: FmriConfig, rng: np.random.Generator) -> np.ndarray:
    """Jittered onsets of one run's trials (seconds). Returns (n_trials,)."""
    intervals = rng.uniform(*cfg.isi, size=max(n_trials - 1, 0))
    return LEAD_IN + np.concatenate([[0.0], np.cumsum(intervals)])


def n_frames(onsets: np.ndarray, cfg: FmriConfig) -> int:
    """Volumes of a run whose last onset is ``onsets[-1]``."""
    return int(math.ceil((float(onsets[-1]) + cfg.event_duration + LEAD_OUT) / cfg.tr))


def fmri_schedule(stimuli: pd.DataFrame, cfg: SimulateConfig, rng: np.random.Generator
                  ) -> pd.DataFrame:
    """Draw one subject's trials: their run, order and onsets.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The stimulus table (stimulus_id, split), in stimulus order.
    cfg : SimulateConfig
        Uses ``test_repetitions`` and ``fmri``.
    rng : numpy.random.Generator
        The subject's schedule stream.

    Returns
    -------
    pandas.DataFrame
        One row per trial, by run then onset: run (1-based), stimulus_index, stimulus_id,
        split, repetition (0-based count of earlier showings), onset, duration (seconds).
    """
    repeats = np.where(stimuli["split"].to_numpy() == "test", cfg.test_repetitions, 1)
    order = rng.permutation(np.repeat(np.arange(len(stimuli)), repeats))
    n_runs = math.ceil(len(order) / trials_per_run(cfg.fmri))
    runs = []
    for run, chunk in enumerate(np.array_split(order, n_runs), start=1):
        runs.append(pd.DataFrame({
            "run": run,
            "stimulus_index": chunk,
            "stimulus_id": stimuli["stimulus_id"].to_numpy()[chunk],
            "split": stimuli["split"].to_numpy()[chunk],
            "onset": np.round(run_onsets(len(chunk), cfg.fmri, rng), 3),
            "duration": cfg.fmri.event_duration,
        }))
    schedule = pd.concat(runs, ignore_index=True)
    schedule.insert(4, "repetition", schedule.groupby("stimulus_id").cumcount())
    return schedule
