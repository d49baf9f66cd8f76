"""fit_encoder -> model dir -> load_encoder / predict_latents on a tiny synthetic study."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.encoders import ENCODERS, train
from pipeline.encoders.baseline import fit_baseline
from pipeline.encoders.curves import CURVE_COLUMNS
from pipeline.encoders.datamodule import load_encoder_data
from pipeline.encoders.model import load_encoder, save_model
from pipeline.encoders.options import BaselineConfig, TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.errors import DataError, ParamsError

CONV = {"hidden_channels": 16, "depth": 2, "spatial_channels": 8, "n_fourier": 3, "dropout": 0.0}
ENCODER_OPTIONS = {
    "conv": CONV,
    "ridge": {"alphas": [0.1, 10.0, 1000.0]},
    "eegnet": {"drop_prob": 0.0},
}
CFG = TrainConfig(max_epochs=30, batch_size=12, patience=30, lr=3e-3, num_threads=2)


def test_top1(predictions: np.ndarray, trials: pd.DataFrame, latents: np.ndarray) -> float:
    """Top-1 of test trials among the test stimuli, cosine in the target space."""
    test = (trials["split"] == "test").to_numpy()
    ids = sorted(set(trials.loc[test, "stimulus_id"]))
    rows = [int(stimulus[4:]) for stimulus in ids]
    gallery = latents[rows] / np.linalg.norm(latents[rows], axis=1, keepdims=True)
    queries = predictions[test] / np.linalg.norm(predictions[test], axis=1, keepdims=True)
    best = np.asarray(ids)[(queries @ gallery.T).argmax(axis=1)]
    return float(np.mean(best == trials.loc[test, "stimulus_id"].to_numpy()))


test_top1.__test__ = False


# The planted relation is linear in the signal; shallow decodes band power
# (test_encoder_modules checks that instead).
@pytest.mark.parametrize("encoder", ["ridge", "conv", "eegnet"])
def test_fit_and_predict_beat_chance_on_test_trials(encoder, make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    model_dir, predictions_dir = tmp_path / "model", tmp_path / "predictions"
    summary = fit_encoder(
        encoder, ENCODER_OPTIONS[encoder], CFG, study["preprocessed"], study["targets"], model_dir
    )
    for name in ("model.safetensors", "config.json", "history.csv", "train.json"):
        assert (model_dir / name).is_file(), name
    written = json.loads((model_dir / "train.json").read_text())
    assert "fit_seconds" not in written  # a timing would make reruns differ byte for byte
    assert {**written, "fit_seconds": summary["fit_seconds"]} == summary
    assert summary["n_train_trials"] == 36 and summary["n_val_trials"] == 12
    assert summary["val_top1"] > 2 * summary["val_chance_top1"]
    history = pd.read_csv(model_dir / "history.csv")
    lightning = ENCODERS.get(encoder).fit_method == "lightning"
    scores = history["val_loss" if lightning else "val_mse"]
    assert len(history) >= 1 and np.isfinite(scores).all()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["subjects"] == ["01", "02"] and config["encoder"] == encoder

    result = predict_latents(model_dir, study["preprocessed"], predictions_dir)
    predictions = np.load(predictions_dir / "predictions.npy")
    trials = pd.read_csv(predictions_dir / "trials.tsv", sep="\t", dtype={"subject": str})
    assert result["n_rows"] == len(trials) == 24 and predictions.shape == (24, 6)
    assert predictions.dtype == np.float32 and set(trials["split"]) == {"val", "test"}
    assert json.loads((predictions_dir / "info.json").read_text())["encoder"] == encoder
    chance = 1 / 6
    assert test_top1(predictions, trials, study["latents"]) > 2.5 * chance
    # Predictions live in the original target space (latents have mean 5, sd 2).
    assert abs(predictions.mean() - 5.0) < 1.0


def test_conv_training_is_selected_on_val_and_logged(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    cfg = TrainConfig(max_epochs=6, batch_size=12, patience=2, lr=3e-3)
    curves, png = tmp_path / "metrics" / "training.csv", tmp_path / "metrics" / "training.png"
    summary = fit_encoder("conv", CONV, cfg, study["preprocessed"], study["targets"], tmp_path,
                          curves=curves, curves_plot=png)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_top1", "temperature"]
    assert summary["best_epoch"] == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert summary["val_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-5)
    assert summary["epochs_run"] == len(history) <= 6
    assert not list(tmp_path.rglob("*.ckpt")), "checkpoints are temporary; weights are safetensors"
    # the DVC plots file: one row per epoch, the history's curves
    pd.testing.assert_frame_equal(pd.read_csv(curves), history[CURVE_COLUMNS])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_closed_form_fit_writes_one_row_of_curves(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    curves, png = tmp_path / "training.csv", tmp_path / "training.png"
    summary = fit_encoder("ridge", ENCODER_OPTIONS["ridge"], CFG, study["preprocessed"],
                          study["targets"], tmp_path / "model", curves=curves, curves_plot=png)
    table = pd.read_csv(curves)
    assert list(table.columns) == CURVE_COLUMNS and len(table) == 1
    assert table["epoch"].tolist() == [0] and table[["train_loss", "val_loss"]].isna().all(None)
    assert table["val_top1"].tolist() == [pytest.approx(summary["val_top1"])]
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize("encoder", ENCODERS.names())
def test_save_load_round_trip_gives_identical_predictions(
    encoder, make_synthetic_study, tmp_path, monkeypatch
):
    study = make_synthetic_study("study")
    saved = {}

    def capture(model, config, out_dir):
        saved["model"] = copy.deepcopy(model).eval()
        save_model(model, config, out_dir)

    monkeypatch.setattr(train, "save_model", capture)
    cfg = TrainConfig(max_epochs=2, batch_size=12)
    fit_encoder(
        encoder, ENCODER_OPTIONS.get(encoder, {}), cfg, study["preprocessed"], study["targets"],
        tmp_path / "model",
    )
    model, config = load_encoder(tmp_path / "model")
    assert not model.training and config["encoder"] == encoder
    x = torch.from_numpy(np.load(study["preprocessed"] / "epochs.npy"))  # (N, C, T)
    subject = torch.tensor([0] * 30 + [1] * 30)
    with torch.no_grad():
        expected = saved["model"](x, subject)
        torch.testing.assert_close(model(x, subject), expected, rtol=0, atol=0)
    predict_latents(tmp_path / "model", study["preprocessed"], tmp_path / "test", splits=["test"])
    predictions = np.load(tmp_path / "test" / "predictions.npy")
    trials = pd.read_csv(tmp_path / "test" / "trials.tsv", sep="\t", dtype={"subject": str})
    rows = (trials["onset"].to_numpy()).astype(int)
    np.testing.assert_allclose(predictions, expected[rows].numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("encoder", ENCODERS.names())
def test_test_split_is_never_read_during_fit(encoder, make_synthetic_study, tmp_path):
    study = make_synthetic_study("study", nan_test=True)
    cfg = TrainConfig(max_epochs=3, batch_size=12)
    summary = fit_encoder(
        encoder, ENCODER_OPTIONS.get(encoder, {}), cfg, study["preprocessed"], study["targets"],
        tmp_path,
    )
    assert np.isfinite(summary["val_loss"]) and np.isfinite(summary["val_top1"])
    model, _ = load_encoder(tmp_path)
    weights = [w for w in model.state_dict().values() if w.is_floating_point()]
    assert all(torch.isfinite(w).all() for w in weights)


def test_seeded_fit_is_reproducible(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    cfg = TrainConfig(max_epochs=2, batch_size=12, seed=3)
    for name in ("a", "b"):
        fit_encoder("conv", CONV, cfg, study["preprocessed"], study["targets"], tmp_path / name)
    a = pd.read_csv(tmp_path / "a" / "history.csv")
    b = pd.read_csv(tmp_path / "b" / "history.csv")
    pd.testing.assert_frame_equal(a, b)


def test_bad_inputs_are_reported(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    cfg = TrainConfig(max_epochs=1)
    with pytest.raises(ParamsError, match="'bogus'"):
        fit_encoder("conv", {"bogus": 1}, cfg, study["preprocessed"], study["targets"], tmp_path)
    known = ", ".join(ENCODERS.names())
    with pytest.raises(ValueError, match=f"unknown encoder 'nope'; expected one of {known}"):
        fit_encoder("nope", {}, cfg, study["preprocessed"], study["targets"], tmp_path)
    with pytest.raises(DataError, match="latents.npy"):
        fit_encoder("ridge", {}, cfg, study["preprocessed"], tmp_path / "missing", tmp_path)
    with pytest.raises(ParamsError, match="splits"):
        predict_latents(tmp_path, study["preprocessed"], tmp_path / "p", splits=["testing"])


def test_fit_baseline_writes_model_and_predictions(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    cfg = BaselineConfig(encoder="ridge", options={"alphas": [1.0, 100.0]})
    result = fit_baseline(
        cfg, study["preprocessed"], study["targets"], tmp_path / "model", tmp_path / "pred"
    )
    assert result["train"]["alpha"] in (1.0, 100.0)
    assert result["predict"]["n_rows"] == 24
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert np.load(tmp_path / "pred" / "predictions.npy").shape == (24, 6)
    assert not list(tmp_path.glob(".*partial"))


def test_targets_are_standardised_on_training_stimuli_only(make_synthetic_study):
    study = make_synthetic_study("study")
    latents = np.load(study["targets"] / "latents.npy")
    latents[18:, 0] = 1e6  # val and test stimuli: an outlier unseen in training
    latents[:, 1] = 2.0  # a constant dimension
    np.save(study["targets"] / "latents.npy", latents)
    data = load_encoder_data(study["preprocessed"], study["targets"])
    np.testing.assert_allclose(data.target_mean, latents[:18].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(data.target_std[0], latents[:18, 0].std(), rtol=1e-5)
    assert data.target_std[1] > 0 and np.isfinite(data.target).all()
    np.testing.assert_array_equal(data.target[:, 1], 0.0)
    assert data.subjects == ["01", "02"] and set(data.stimulus_index[data.rows("train")]) == set(
        range(18)
    )
    assert (data.stimulus_index[data.rows("val")] >= 18).all()
    test_rows = (data.preprocessed.trials["split"] == "test").to_numpy()
    assert (data.stimulus_index[test_rows] == -1).all()



def test_ridge_blend_trains_the_same_conv_then_weighs_ridge_on_validation(
        make_synthetic_study, tmp_path):
    """conv with ridge_blend trains exactly as conv (same history), then blends in the
    ridge baseline's map with the weight of lowest validation mean rank, which can only
    rank the validation trials as well as the better of the two or better."""
    study = make_synthetic_study("study")
    cfg = CFG.model_copy(update={"max_epochs": 4})
    fit_encoder("conv", CONV, cfg, study["preprocessed"], study["targets"],
                tmp_path / "plain")
    blended = fit_encoder("conv", {**CONV, "ridge_blend": True}, cfg, study["preprocessed"],
                          study["targets"], tmp_path / "blended")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain" / "history.csv"),
                                  pd.read_csv(tmp_path / "blended" / "history.csv"))
    ranks = blended["ridge_weight_val_ranks"]
    assert ranks[str(blended["ridge_weight"])] == min(ranks.values())
    ridge_fit = fit_encoder("ridge", {}, TrainConfig(), study["preprocessed"], study["targets"],
                            tmp_path / "ridge")  # the default alphas, as the blend's
    assert blended["ridge_alpha"] == ridge_fit["alpha"]

    data = load_encoder_data(study["preprocessed"], study["targets"])
    val = data.arrays("val")
    x, subject = torch.from_numpy(val.x), torch.from_numpy(val.subject)
    conv = load_encoder(tmp_path / "blended")[0].encoder
    learned = load_encoder(tmp_path / "plain")[0].encoder
    ridge = load_encoder(tmp_path / "ridge")[0].encoder
    weight = blended["ridge_weight"]
    with torch.no_grad():
        expected = ((1 - weight) * torch.nn.functional.normalize(learned(x, subject), dim=1)
                    + weight * torch.nn.functional.normalize(ridge(x, subject), dim=1))
        torch.testing.assert_close(conv(x, subject), expected if weight else learned(x, subject))
