"""Tiny MEG and sEEG BIDS studies for the preprocess tests, with the simulator's sensor layouts.

White noise at each channel type's scale plus an evoked bump after each stimulus onset, one
annotation per trial (stimuli as in preprocess_fixtures.STIMULI), one noisy and one flat
channel.
"""

from __future__ import annotations

from pathlib import Path

import mne
import mne_bids
import numpy as np
from preprocess_fixtures import STIMULI

from pipeline.simulate.meg import UNITS
from pipeline.simulate.meg import make_info as meg_info
from pipeline.simulate.options import SeegConfig
from pipeline.simulate.seeg import SEEG, make_shafts

SFREQ = 200.0
DURATION = 20.0
SEEG_LAYOUT = SeegConfig(n_shafts=4, contacts_per_shaft=6)
SEEG_NOISE = 20e-6  # volts
BUMP_LATENCY = 0.15


def _signals(n_chans: int, scale: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise (n_chans, n_times) of per-channel ``scale`` plus a bump up to 2x that; onsets."""
    rng = np.random.default_rng(seed)
    n_times = int(DURATION * SFREQ)
    times = np.arange(n_times) / SFREQ
    onsets = np.arange(1.0, DURATION - 1.0, 1.0)
    bumps = sum(np.exp(-0.5 * ((times - onset - BUMP_LATENCY) / 0.03) ** 2) for onset in onsets)
    topography = rng.uniform(-2.0, 2.0, n_chans)
    data = scale[:, None] * (rng.standard_normal((n_chans, n_times))
                             + topography[:, None] * bumps[None, :])
    return data, onsets


def _annotate(raw: mne.io.BaseRaw, onsets: np.ndarray) -> mne.io.BaseRaw:
    ids = [STIMULI["stimulus_id"][index % len(STIMULI)] for index in range(len(onsets))]
    raw.set_annotations(mne.Annotations(onsets, 0.0, ids))
    return raw


def build_meg(seed: int = 0, noisy: str = "MEG0101", flat: str = "MEG0202") -> mne.io.RawArray:
    """306 MEG channels (mags ~100 fT, grads ~2 pT/m); ``noisy`` x20, ``flat`` zero."""
    info = meg_info(SFREQ, 50.0)
    scale = np.array([UNITS[kind] for kind in info.get_channel_types()])
    data, onsets = _signals(len(scale), scale, seed)
    data[info["ch_names"].index(noisy)] *= 20
    data[info["ch_names"].index(flat)] = 0.0
    return _annotate(mne.io.RawArray(data, info, verbose=False), onsets)


def build_seeg(seed: int = 0, noisy: str = "LB3") -> mne.io.RawArray:
    """4 shafts of 6 contacts (20 uV noise) with their positions; ``noisy`` x20."""
    names, positions = make_shafts(SEEG_LAYOUT, seed=0)
    info = mne.create_info(names, SFREQ, "seeg")
    info.set_montage(mne.channels.make_dig_montage(dict(zip(names, positions, strict=True)),
                                                   coord_frame="head"))
    data, onsets = _signals(len(names), np.full(len(names), SEEG_NOISE), seed)
    data[names.index(noisy)] *= 20
    return _annotate(mne.io.RawArray(data, info, verbose=False), onsets)


def write_sensor_bids(root: Path, raws: dict[str, mne.io.BaseRaw]) -> Path:
    """Write MEG raws as FIF (``meg/``) and sEEG raws as BrainVision (``ieeg/``) under root."""
    for subject, raw in raws.items():
        meg = "mag" in raw.get_channel_types()
        path = mne_bids.BIDSPath(subject=subject, task="images", root=root,
                                 datatype="meg" if meg else "ieeg")
        options = {} if meg else SEEG.write_options(raw.info)
        raw.info["line_freq"] = 50.0
        mne_bids.write_raw_bids(raw, path, format="FIF" if meg else "BrainVision",
                                allow_preload=True, overwrite=True, verbose=False, **options)
    (root / "stimuli").mkdir(exist_ok=True)
    STIMULI.to_csv(root / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    return root
