"""Build tiny BIDS studies for the preprocess tests: 64 standard_1020 EEG channels, random
noise plus an evoked bump after each stimulus onset, one annotation per trial."""

from __future__ import annotations

import warnings
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd

from pipeline.preprocess.recordings import stimulus_events
from pipeline.preprocess.step import StepContext

MONTAGE = "standard_1020"
SFREQ = 250.0
NOISE = 10e-6
BUMP = 20e-6
BUMP_LATENCY = 0.15
STIMULI = pd.DataFrame({
    "stimulus_id": [f"stim{index:04d}" for index in range(12)],
    "split": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
})


def standard_montage() -> mne.channels.DigMontage:
    with warnings.catch_warnings(), mne.use_log_level("error"):
        warnings.simplefilter("ignore", FutureWarning)
        return mne.channels.make_standard_montage(MONTAGE)


def channel_names(n_chans: int = 64) -> list[str]:
    return standard_montage().ch_names[:n_chans]


def build_raw(seed: int = 0, duration: float = 40.0, names: list[str] | None = None,
              noisy: str | None = None, flat: str | None = None) -> mne.io.RawArray:
    """White noise plus a 20 uV bump (front-back topography) 150 ms after each onset.

    One trial per second from 1 s (stimuli cycle through STIMULI), and one 'rest'
    annotation at 0.5 s that is not a trial.
    """
    names = names or channel_names()
    rng = np.random.default_rng(seed)
    n_times = int(duration * SFREQ)
    info = mne.create_info(names, SFREQ, "eeg")
    positions = standard_montage().get_positions()["ch_pos"]
    front_back = np.array([positions[name][1] if name in positions else 0.0 for name in names])
    topography = (front_back - front_back.mean()) / np.abs(front_back).max()  # (n_chans,)
    times = np.arange(n_times) / SFREQ
    onsets = np.arange(1.0, duration - 1.0, 1.0)
    bumps = sum(np.exp(-0.5 * ((times - onset - BUMP_LATENCY) / 0.03) ** 2) for onset in onsets)
    data = NOISE * rng.standard_normal((len(names), n_times))  # (n_chans, n_times)
    data += BUMP * topography[:, None] * bumps[None, :]
    if noisy:
        data[names.index(noisy)] *= 20
    if flat:
        data[names.index(flat)] = 0.0
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_montage(standard_montage(), match_case=False, on_missing="ignore")
    stimulus_ids = [STIMULI["stimulus_id"][index % len(STIMULI)] for index in range(len(onsets))]
    raw.set_annotations(mne.Annotations([*onsets, 0.5], 0.0, [*stimulus_ids, "rest"]))
    return raw


def write_bids(root: Path, raws: dict[str, mne.io.BaseRaw],
               stimuli: pd.DataFrame = STIMULI) -> Path:
    """Write each subject's raw as BrainVision BIDS under ``root``, plus stimuli/stimuli.tsv."""
    for subject, raw in raws.items():
        path = mne_bids.BIDSPath(subject=subject, task="images", datatype="eeg", root=root)
        mne_bids.write_raw_bids(raw, path, format="BrainVision", allow_preload=True,
                                overwrite=True, verbose=False)
    (root / "stimuli").mkdir(exist_ok=True)
    stimuli.to_csv(root / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    return root


def step_context(raw: mne.io.BaseRaw) -> StepContext:
    """The context the study driver would give steps for ``raw``."""
    return StepContext("sub-01_task-images_eeg.vhdr", MONTAGE,
                       stimulus_events(raw, STIMULI["stimulus_id"]))
