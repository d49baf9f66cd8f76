"""Tiny synthetic studies on disk: targets (contract 3), predictions (contract 5), oracle npz."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.io import write_json, write_tsv

N_CHANS, N_TIMES = 3, 4


@dataclass(frozen=True)
class Study:
    """Paths and ground truth of a synthetic study."""

    targets: Path
    decoder: Path
    baseline: Path
    oracle: Path
    latents: np.ndarray
    stimuli: pd.DataFrame
    trials: pd.DataFrame


def _stimuli(n_train: int, n_val: int, n_test: int) -> pd.DataFrame:
    splits = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    ids = [f"stim{index:04d}" for index in range(len(splits))]
    return pd.DataFrame(
        {
            "stimulus_id": ids,
            "split": splits,
            "image": [f"images/{stim}.png" for stim in ids],
            "caption": [f"object {stim}" for stim in ids],
        }
    )


def _trials(stimuli: pd.DataFrame, subjects: list[str], n_reps: int) -> pd.DataFrame:
    rows = []
    for subject in subjects:
        for stimulus_id, split in zip(stimuli["stimulus_id"], stimuli["split"], strict=True):
            for repetition in range(n_reps if split == "test" else 1):
                rows.append(
                    {"subject": subject, "session": "01", "run": 1, "stimulus_id": stimulus_id,
                     "split": split, "repetition": repetition, "onset": float(len(rows))}
                )
    return pd.DataFrame(rows)


def write_predictions(
    out: Path, predictions: np.ndarray, trials: pd.DataFrame, encoder: str | None = None
) -> Path:
    """Write a predictions directory (contract 5)."""
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "predictions.npy", predictions.astype(np.float32))
    write_tsv(trials, out / "trials.tsv")
    if encoder is not None:
        write_json({"encoder": encoder}, out / "info.json")
    return out


def write_oracle(
    out: Path,
    subject: str,
    templates: np.ndarray,
    stimulus_ids: list[str],
    trials: np.ndarray,
    trial_stimulus_ids: list[str],
    noise_cov: np.ndarray,
) -> Path:
    """Write one subject's oracle npz (contract 1)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"sub-{subject}_oracle.npz"
    np.savez(
        path,
        templates=templates,
        stimulus_ids=np.array(stimulus_ids),
        trials=trials,
        trial_stimulus_ids=np.array(trial_stimulus_ids),
        noise_cov=noise_cov,
    )
    write_json({"sfreq": 50.0, "tmin": 0.0, "tmax": 0.08, "n_noise_epochs": 100,
                "description": "synthetic"}, out / "oracle.json")
    return path


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., Study]:
    """Factory: a study with known latents, a good decoder, a poor baseline and an oracle."""

    def make(
        n_subjects: int = 2,
        n_train: int = 10,
        n_val: int = 3,
        n_test: int = 6,
        n_reps: int = 3,
        dim: int = 8,
        decoder_noise: float = 0.3,
        baseline_noise: float = 3.0,
        oracle_noise: float = 0.5,
        seed: int = 0,
    ) -> Study:
        rng = np.random.default_rng(seed)
        stimuli = _stimuli(n_train, n_val, n_test)
        latents = rng.standard_normal((len(stimuli), dim))  # (n_stimuli, dim)
        targets = tmp_path / "targets"
        targets.mkdir()
        np.save(targets / "latents.npy", latents.astype(np.float32))
        write_tsv(stimuli, targets / "stimuli.tsv")
        write_json({"name": "toy", "dim": dim}, targets / "info.json")

        subjects = [f"{index + 1:02d}" for index in range(n_subjects)]
        trials = _trials(stimuli, subjects, n_reps)
        held_out = trials[trials["split"] != "train"].reset_index(drop=True)
        row_of = {stim: row for row, stim in enumerate(stimuli["stimulus_id"])}
        truth = latents[[row_of[stim] for stim in held_out["stimulus_id"]]]  # (n_rows, dim)
        decoder = write_predictions(
            tmp_path / "predictions" / "decoder",
            truth + decoder_noise * rng.standard_normal(truth.shape), held_out, encoder="conv",
        )
        baseline = write_predictions(
            tmp_path / "predictions" / "baseline",
            truth + baseline_noise * rng.standard_normal(truth.shape), held_out, encoder="ridge",
        )

        oracle = tmp_path / "oracle"
        n_features = N_CHANS * N_TIMES
        readout = rng.standard_normal((dim, n_features))  # (dim, D)
        mixing = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
        noise_cov = oracle_noise**2 * (mixing @ mixing.T + 0.1 * np.eye(n_features))  # (D, D)
        factor = np.linalg.cholesky(noise_cov)
        test_ids = list(stimuli.loc[stimuli["split"] == "test", "stimulus_id"])
        templates = latents[[row_of[stim] for stim in test_ids]] @ readout  # (n_test, D)
        for subject in subjects:
            trial_ids = [stim for stim in test_ids for _ in range(n_reps)]
            clean = templates[[test_ids.index(stim) for stim in trial_ids]]  # (n_trials, D)
            noisy = clean + rng.standard_normal(clean.shape) @ factor.T
            write_oracle(
                oracle, subject, templates.reshape(-1, N_CHANS, N_TIMES), test_ids,
                noisy.reshape(-1, N_CHANS, N_TIMES), trial_ids, noise_cov,
            )
        return Study(targets, decoder, baseline, oracle, latents, stimuli, held_out)

    return make


@pytest.fixture
def oracle_writer() -> Callable[..., Path]:
    """The function that writes one subject's oracle npz."""
    return write_oracle


@pytest.fixture
def predictions_writer() -> Callable[..., Path]:
    """The function that writes a predictions directory."""
    return write_predictions
