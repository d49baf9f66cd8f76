"""The trial sequence of each subject: which stimulus is shown when.

Every subject sees every stimulus: train and val stimuli once, test stimuli
``test_repetitions`` times, in an order shuffled per subject, with onsets separated by a
random inter-stimulus interval drawn uniformly from ``isi``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

LEAD_IN = 2.0  # seconds of recording before the first onset
LEAD_OUT = 2.0  # seconds of recording after the last response


def trial_schedule(stimuli: pd.DataFrame, cfg: SimulateConfig, subject_index: int) -> pd.DataFrame:
    """Draw one subject's trial sequence.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The stimulus table (columns stimulus_id, split), in stimulus order.
    cfg : SimulateConfig
        Uses ``seed``, ``test_repetitions``, ``isi`` and ``sfreq``.
    subject_index : int
        0-based subject index; selects the shuffle and the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per trial, in presentation order: stimulus_index (row in ``stimuli``),
        stimulus_id, split, repetition (0-based count of earlier showings), sample (onset
        sample in the recording) and onset (seconds).
    """
    repeats = np.where(stimuli["split"].to_numpy() == "test", cfg.test_repetitions, 1)
    rng = make_rng(cfg.seed, "schedule", subject_index)
    order = rng.permutation(np.repeat(np.arange(len(stimuli)), repeats))
    intervals = rng.uniform(*cfg.isi, size=order.size - 1)
    onsets = LEAD_IN + np.concatenate([[0.0], np.cumsum(intervals)])
    samples = np.round(onsets * cfg.sfreq).astype(np.int64)
    schedule = pd.DataFrame(
        {
            "stimulus_index": order,
            "stimulus_id": stimuli["stimulus_id"].to_numpy()[order],
            "split": stimuli["split"].to_numpy()[order],
            "sample": samples,
            "onset": samples / cfg.sfreq,
        }
    )
    schedule.insert(3, "repetition", schedule.groupby("stimulus_id").cumcount())
    return schedule


def recording_samples(schedule: pd.DataFrame, sfreq: float, response_samples: int) -> int:
    """Length in samples of a recording that holds every trial of ``schedule``.

    Parameters
    ----------
    schedule : pandas.DataFrame
        From :func:`trial_schedule`.
    sfreq : float
    response_samples : int
        Samples of one response from its onset.
    """
    return int(schedule["sample"].max() + response_samples + round(LEAD_OUT * sfreq))
