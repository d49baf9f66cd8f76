"""The simulated fMRI study through preprocessing, and the betas through a ridge encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.io import read_json
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.simulate.modalities import simulate_study
from pipeline.simulate.options import SimulateConfig
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

PHYSIO = ["cardiac_*", "respiratory_*"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny simulated fMRI study (12 mm voxels) and its LSS betas."""
    root = tmp_path_factory.mktemp("sim")
    cfg = SimulateConfig.model_validate({
        "modality": "fmri", "n_subjects": 2, "stimuli": {"train": 16, "val": 4, "test": 4},
        "test_repetitions": 2, "image_size": 32, "n_sources": 8, "snr": 1.0,
        "fmri": {"voxel_size": 12.0, "run_duration": 90.0, "oracle_voxels": 20,
                 "oracle_noise_runs": 1},
    })
    simulate_study(cfg, root / "raw")
    out = root / "preprocessed"
    out.mkdir()
    preprocess_study(PreprocessConfig.model_validate({"steps": [], "fmri": {"confounds": PHYSIO}}),
                     root / "raw", out)
    return root / "raw", out


def test_betas_identify_the_test_stimuli(simulated):
    """Correlating a test trial's betas with the true amplitudes finds its stimulus."""
    raw, out = simulated
    truth = read_json(raw / "derivatives" / "simulation" / "truth.json")
    betas = np.load(out / "betas.npy")
    assert betas.shape[1] == truth["n_voxels"] == read_json(out / "info.json")["n_voxels"]
    trials = pd.read_csv(out / "trials.tsv", sep="\t", dtype={"subject": str})
    hits = []
    for subject in ("01", "02"):
        oracle = np.load(raw / "derivatives" / "oracle" / f"sub-{subject}_oracle.npz")
        templates = oracle["templates"][..., 0]  # (4, 20)
        voxels = truth["subjects"][subject]["oracle_voxels"]
        rows = np.flatnonzero((trials["subject"] == subject) & (trials["split"] == "test"))
        scores = np.corrcoef(betas[rows][:, voxels], templates)[: len(rows), len(rows):]
        best = np.asarray(oracle["stimulus_ids"])[scores.argmax(axis=1)]
        hits += list(best == trials["stimulus_id"].to_numpy()[rows])
    assert np.mean(hits) > 0.5  # chance 0.25


def test_mni152_mask_on_simulated_mni_data(simulated, tmp_path):
    raw, out = simulated
    cfg = PreprocessConfig.model_validate({"steps": [], "fmri": {"mask": "mni152",
                                                                 "estimator": "lagged"}})
    summary = preprocess_study(cfg, raw, tmp_path)
    derivative = read_json(out / "info.json")["n_voxels"]
    assert 0.8 * derivative < summary["n_voxels"] < 1.25 * derivative


def test_ridge_fits_and_predicts_on_betas(simulated, tmp_path):
    raw, out = simulated
    compute_targets(TargetsConfig(name="simulator"), raw, tmp_path / "targets")
    summary = fit_encoder("ridge", {}, TrainConfig(), out, tmp_path / "targets",
                          tmp_path / "model")
    assert summary["n_train_trials"] == 32 and summary["n_val_trials"] == 8
    config = read_json(tmp_path / "model" / "config.json")
    assert config["signal"]["n_times"] == 1 and config["signal"]["sfreq"] == 0.5
    predicted = predict_latents(tmp_path / "model", out, tmp_path / "predictions")
    latents = np.load(tmp_path / "targets" / "latents.npy")
    assert predicted["n_rows"] == 8 + 16 and predicted["dim"] == latents.shape[1]
