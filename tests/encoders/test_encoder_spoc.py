"""The band-power (SPoC) encoder: CSP for two classes, closed-form start, fitted end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.spoc import SpocEncoder, _leading_components, spoc_filters
from pipeline.encoders.train import fit_encoder
from pipeline.errors import DataError
from pipeline.io import read_json, read_tsv

C, T = 6, 200


def two_class_trials(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean trials (N, C, T) whose power along one pattern grows with class 1 and along
    another with class 0, and their labels (N,)."""
    label = np.arange(n) % 2
    patterns = rng.normal(size=(2, C))
    sources = rng.normal(size=(n, 2, T)) * np.stack([1 + 2 * label, 3 - 2 * label], 1)[..., None]
    x = np.einsum("kc,nkt->nct", patterns, sources) + rng.normal(size=(n, C, T))
    return x - x.mean(axis=-1, keepdims=True), label


def test_two_class_filters_are_common_spatial_patterns():
    from mne.decoding import CSP

    x, label = two_class_trials(np.random.default_rng(0), 80)
    filters = spoc_filters(x, (2.0 * label - 1.0)[:, None], 2, shrinkage=0.0)  # (2, C)
    csp = CSP(n_components=C, cov_est="epoch", norm_trace=False, component_order="alternate")
    ends = csp.fit(x, label).filters_[[1, 0]]  # class 1's power largest, then class 0's
    cosines = np.abs(np.sum(filters * ends, axis=1)) / (
        np.linalg.norm(filters, axis=1) * np.linalg.norm(ends, axis=1))
    assert np.all(cosines > 0.999), cosines
    powers = np.einsum("fc,nct->nft", filters, x).var(axis=-1)  # (N, 2)
    ratio = powers[label == 1].mean(axis=0) / powers[label == 0].mean(axis=0)
    assert ratio[0] > 2 and ratio[1] < 0.5  # rises with the component, then falls with it
    mean_cov = np.einsum("nct,ndt->cd", x, x) / (len(x) * T)
    np.testing.assert_allclose(np.einsum("fc,cd,fd->f", filters, mean_cov, filters), 1.0,
                               rtol=1e-6)


def test_leading_components_leave_out_what_the_latents_do_not_span():
    rng = np.random.default_rng(1)
    classes = rng.normal(size=(2, 16))
    components = _leading_components(classes[np.arange(30) % 2], count=4)
    assert components.shape == (30, 1)  # two class latents span one direction
    np.testing.assert_allclose(components.std(axis=0), 1.0)
    with pytest.raises(DataError, match="spoc.*do not vary"):
        _leading_components(np.ones((10, 4)), count=4)


def test_prepare_fit_starts_from_a_ridge_map_that_retrieves_the_validation_trials(
        make_synthetic_study):
    from pipeline.encoders.datamodule import load_encoder_data

    study = make_synthetic_study("study")
    planted_power(study, np.random.default_rng(2))
    data = load_encoder_data(study["preprocessed"], study["targets"])
    encoder = SpocEncoder(*np.load(study["preprocessed"] / "epochs.npy").shape[1:], 100.0,
                          data.target.shape[1], 1, None, n_components=6, alphas=[1.0, 10.0])
    details = encoder.prepare_fit(data)
    assert details["init_components"] == 6 and details["init_alpha"] in (1.0, 10.0)
    val = data.arrays("val")
    with torch.no_grad():
        predicted = encoder(torch.from_numpy(val.x), torch.zeros(len(val.x), dtype=torch.long))
    assert details["init_val_rank"] < 1.0  # 6 candidates: chance mean rank is 2.5
    assert np.isfinite(predicted.numpy()).all()


def planted_power(study: dict, rng: np.random.Generator) -> None:
    """Replace the study's epochs by trials whose power along one pattern per latent
    dimension is exp(0.6 * latent)."""
    pre = study["preprocessed"]
    trials = read_tsv(pre / "trials.tsv")
    rows = trials["stimulus_id"].str[4:].astype(int).to_numpy()
    n_chans, n_times = np.load(pre / "epochs.npy").shape[1:]
    latent = (study["latents"][rows] - 5.0) / 2.0  # (N, D), standard normal
    patterns = rng.normal(size=(latent.shape[1], n_chans))
    sources = rng.normal(size=(len(latent), latent.shape[1], n_times)) * np.exp(
        0.3 * latent)[:, :, None]
    noise = 0.3 * rng.normal(size=(len(latent), n_chans, n_times))
    x = np.einsum("kc,nkt->nct", patterns, sources) + noise
    np.save(pre / "epochs.npy", x.astype(np.float32))


def test_fitted_end_to_end_it_retrieves_planted_band_power(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")  # 30 stimuli x 2 subjects; 6 test stimuli
    planted_power(study, np.random.default_rng(0))
    summary = fit_encoder("spoc", {"n_components": 3}, TrainConfig(max_epochs=3),
                          study["preprocessed"], study["targets"], tmp_path / "model")
    assert summary["fit_method"] == "lightning"
    details = read_json(tmp_path / "model" / "train.json")
    assert {"init_components", "init_alpha", "init_val_rank"} <= set(details)
    predict_latents(tmp_path / "model", study["preprocessed"], tmp_path / "pred",
                    splits=["test"])
    predictions = np.load(tmp_path / "pred" / "predictions.npy") - 5.0  # centred as the gallery
    test = pd.read_csv(tmp_path / "pred" / "trials.tsv", sep="\t", dtype={"subject": str})
    ids = sorted(set(test["stimulus_id"]))
    gallery = study["latents"][[int(stimulus[4:]) for stimulus in ids]] - 5.0  # (6, D)
    scores = (predictions / np.linalg.norm(predictions, axis=1, keepdims=True)) @ (
        gallery / np.linalg.norm(gallery, axis=1, keepdims=True)).T  # (n_test, 6)
    top1 = np.mean(np.asarray(ids)[scores.argmax(axis=1)] == test["stimulus_id"].to_numpy())
    assert top1 > 2.5 / len(ids)


def test_filters_never_exceed_the_channels():
    encoder = SpocEncoder(3, T, 100.0, 4, 1, None, n_components=2, filters_per_component=5)
    assert encoder.filters.shape == (6, 3)  # 2 components x at most 3 filters
    rng = np.random.default_rng(3)
    x, target = rng.normal(size=(20, 3, T)), rng.normal(size=(20, 4))
    assert spoc_filters(x, _leading_components(target, 2), 5, 0.0).shape == (6, 3)


def test_flat_epochs_are_a_data_error_naming_the_power():
    with pytest.raises(DataError, match=r"spoc.*mean power is 0; expected finite signals"):
        spoc_filters(np.zeros((10, 3, T)), np.linspace(-1, 1, 10)[:, None], 2, 0.0)
