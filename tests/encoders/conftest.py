"""Tiny synthetic preprocessed datasets with a planted linear brain <- latent relation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.io import write_json, write_tsv

N_CHANS, N_TIMES, DIM, SFREQ = 8, 20, 6, 100.0
SPLIT_SIZES = {"train": 18, "val": 6, "test": 6}
SUBJECTS = ("01", "02")


def sensor_positions(n_chans: int, seed: int = 0) -> np.ndarray:
    """Points on the upper half of a 9 cm sphere, (n_chans, 3) in metres."""
    rng = np.random.default_rng(seed)
    polar = rng.uniform(0, 0.6 * np.pi, n_chans)
    azimuth = rng.uniform(-np.pi, np.pi, n_chans)
    return 0.09 * np.stack(
        [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1
    )


def make_study(root: Path, nan_test: bool = False, noise: float = 0.3, seed: int = 0) -> dict:
    """Write preprocessed/ and targets/ under ``root``; return their paths and the truth.

    Each trial is ``gain[subject] * (latent @ mixing)`` reshaped to (channels, time), plus
    white noise; 30 stimuli (18 train, 6 val, 6 test), each seen once per subject.
    """
    rng = np.random.default_rng(seed)
    splits = [split for split, n in SPLIT_SIZES.items() for _ in range(n)]
    stimulus_ids = [f"stim{i:04d}" for i in range(len(splits))]
    latents = rng.normal(size=(len(splits), DIM)).astype(np.float32) * 2.0 + 5.0
    mixing = rng.normal(size=(DIM, N_CHANS * N_TIMES))
    gains = {"01": 1.0, "02": 0.6}
    rows, epochs = [], []
    for subject in SUBJECTS:
        for index, (stimulus, split) in enumerate(zip(stimulus_ids, splits, strict=True)):
            signal = gains[subject] * (latents[index] - 5.0) @ mixing / np.sqrt(DIM)
            epoch = signal + noise * rng.normal(size=signal.shape)
            if nan_test and split == "test":
                epoch = np.full_like(epoch, np.nan)
            epochs.append(epoch.reshape(N_CHANS, N_TIMES))
            rows.append({
                "subject": subject, "session": "01", "run": 1, "stimulus_id": stimulus,
                "split": split, "repetition": 0, "onset": float(len(rows)),
            })
    preprocessed = root / "preprocessed"
    preprocessed.mkdir(parents=True)
    np.save(preprocessed / "epochs.npy", np.asarray(epochs, dtype=np.float32))
    write_tsv(pd.DataFrame(rows), preprocessed / "trials.tsv")
    write_json(
        {
            "sfreq": SFREQ,
            "tmin": 0.0,
            "ch_names": [f"E{i}" for i in range(N_CHANS)],
            "ch_types": ["eeg"] * N_CHANS,
            "ch_pos": sensor_positions(N_CHANS).tolist(),
            "subjects": list(SUBJECTS),
            "bad_channels": {},
            "montage": "synthetic",
            "steps": [],
        },
        preprocessed / "info.json",
    )
    targets = root / "targets"
    targets.mkdir()
    np.save(targets / "latents.npy", latents)
    stimuli = pd.DataFrame({
        "stimulus_id": stimulus_ids, "split": splits, "image": "", "caption": "",
    })
    write_tsv(stimuli, targets / "stimuli.tsv")
    write_json({"name": "synthetic", "dim": DIM}, targets / "info.json")
    return {"preprocessed": preprocessed, "targets": targets, "latents": latents}


@pytest.fixture
def study(tmp_path: Path) -> dict:
    """A synthetic study with finite test epochs."""
    return make_study(tmp_path)


@pytest.fixture
def signal() -> dict:
    """The standard signal arguments of the synthetic study."""
    return {
        "n_chans": N_CHANS,
        "n_times": N_TIMES,
        "sfreq": SFREQ,
        "n_outputs": DIM,
        "n_subjects": len(SUBJECTS),
        "chs_pos": sensor_positions(N_CHANS),
    }


@pytest.fixture
def make_synthetic_study(tmp_path: Path):
    """Factory: ``make_synthetic_study(name, **kwargs)`` writes a study under tmp_path/name."""
    return lambda name, **kwargs: make_study(tmp_path / name, **kwargs)
