"""A tiny preprocessed study (and its targets) for pretraining tests: planted linear relation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.io import write_json, write_tsv

N_CHANS, N_TIMES, DIM, SFREQ = 6, 20, 4, 100.0
SPLIT_SIZES = {"train": 16, "val": 6, "test": 6}
SUBJECTS = ("01", "02")
# A backbone that trains in about a second on one CPU thread.
TINY_BACKBONE = {"patch_seconds": 0.1, "d_model": 16, "depth": 1, "heads": 2, "dropout": 0.0,
                 "n_fourier": 2}


def positions(n_chans: int) -> np.ndarray:
    """Points on the upper half of a 9 cm sphere, (n_chans, 3) in metres."""
    rng = np.random.default_rng(1)
    polar = rng.uniform(0, 0.6 * np.pi, n_chans)
    azimuth = rng.uniform(-np.pi, np.pi, n_chans)
    return 0.09 * np.stack(
        [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1
    )


def write_study(root: Path, constant: bool = False, nan_test: bool = False, seed: int = 0) -> dict:
    """Write ``preprocessed/`` and ``targets/`` under ``root``; return their paths.

    Trials are ``latent @ mixing`` reshaped to (channels, time) plus white noise, one per
    stimulus and subject. ``constant`` makes every epoch the same (a codebook collapses);
    ``nan_test`` fills the test epochs with NaN (reading them would poison training).
    """
    rng = np.random.default_rng(seed)
    splits = [split for split, n in SPLIT_SIZES.items() for _ in range(n)]
    stimulus_ids = [f"stim{i:03d}" for i in range(len(splits))]
    latents = rng.normal(size=(len(splits), DIM)).astype(np.float32)
    mixing = rng.normal(size=(DIM, N_CHANS * N_TIMES)) / np.sqrt(DIM)
    rows, epochs = [], []
    for subject in SUBJECTS:
        for index, (stimulus, split) in enumerate(zip(stimulus_ids, splits, strict=True)):
            epoch = latents[index] @ mixing + 0.3 * rng.normal(size=N_CHANS * N_TIMES)
            if constant:
                epoch = np.ones_like(epoch)
            if nan_test and split == "test":
                epoch = np.full_like(epoch, np.nan)
            epochs.append(epoch.reshape(N_CHANS, N_TIMES))
            rows.append({"subject": subject, "session": "01", "run": 1, "stimulus_id": stimulus,
                         "split": split, "repetition": 0, "onset": float(len(rows))})
    preprocessed, targets = root / "preprocessed", root / "targets"
    preprocessed.mkdir(parents=True)
    targets.mkdir()
    np.save(preprocessed / "epochs.npy", np.asarray(epochs, dtype=np.float32))
    write_tsv(pd.DataFrame(rows), preprocessed / "trials.tsv")
    write_json({"sfreq": SFREQ, "tmin": 0.0, "ch_names": [f"E{i}" for i in range(N_CHANS)],
                "ch_types": ["eeg"] * N_CHANS, "ch_pos": positions(N_CHANS).tolist()},
               preprocessed / "info.json")
    np.save(targets / "latents.npy", latents)
    write_tsv(pd.DataFrame({"stimulus_id": stimulus_ids, "split": splits}),
              targets / "stimuli.tsv")
    write_json({"name": "synthetic", "dim": DIM}, targets / "info.json")
    return {"preprocessed": preprocessed, "targets": targets, "root": root}


@pytest.fixture
def make_pretrain_study(tmp_path: Path):
    """Factory: ``make_pretrain_study(name, **kwargs)`` writes a study under tmp_path/name."""
    return lambda name, **kwargs: write_study(tmp_path / name, **kwargs)


@pytest.fixture
def tiny_backbone() -> dict:
    """Options of a patch transformer small enough for unit tests."""
    return dict(TINY_BACKBONE)
