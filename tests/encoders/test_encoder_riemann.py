"""The Riemannian tangent-space encoder: pyriemann's features in torch, fit, save and load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from pyriemann.estimation import Covariances, Shrinkage
from pyriemann.tangentspace import TangentSpace

from pipeline.encoders.datamodule import SplitArrays
from pipeline.encoders.model import ScaledEncoder, load_encoder, save_model
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.riemann import RiemannEncoder, augment
from pipeline.encoders.train import fit_encoder
from pipeline.errors import ParamsError
from pipeline.io import read_tsv

C, T, D = 5, 40, 3


def power_trials(rng: np.random.Generator, latent: np.ndarray, patterns: np.ndarray,
                 n_times: int) -> np.ndarray:
    """Trials (N, C, T) whose power along pattern k is exp(0.6 * latent[:, k]), plus noise."""
    sources = rng.normal(size=(len(latent), patterns.shape[0], n_times))  # (N, K, T)
    sources *= np.exp(0.3 * latent)[:, :, None]
    noise = 0.3 * rng.normal(size=(len(latent), patterns.shape[1], n_times))
    return np.einsum("kc,nkt->nct", patterns, sources) + noise


def arrays(x: np.ndarray, target: np.ndarray) -> SplitArrays:
    return SplitArrays(x=x.astype(np.float32), subject=np.zeros(len(x), dtype=np.int64),
                       target=target.astype(np.float32), stimulus=np.arange(len(x)))


def fitted(rng: np.random.Generator, **options) -> tuple[RiemannEncoder, np.ndarray]:
    """An encoder fitted on power-modulated trials; also return its training epochs."""
    patterns = rng.normal(size=(D, C))
    latent = rng.normal(size=(60, D))
    x = power_trials(rng, latent, patterns, T)
    encoder = RiemannEncoder(C, T, 100.0, D, 1, np.zeros((C, 3)), alphas=[1.0, 100.0],
                             **options)
    encoder.fit_closed_form(arrays(x[:45], latent[:45]), arrays(x[45:], latent[45:]))
    return encoder, x[:45].astype(np.float32)


@pytest.mark.parametrize(("order", "lag", "shrinkage"), [(1, 1, "oas"), (3, 2, "oas"),
                                                         (2, 5, 0.1)])
def test_torch_features_equal_the_pyriemann_pipeline(order, lag, shrinkage):
    encoder, x = fitted(np.random.default_rng(0), order=order, lag=lag, shrinkage=shrinkage)
    delayed = augment(torch.from_numpy(x).double(), order, lag).numpy()  # (N, C * order, L)
    assert delayed.shape == (45, C * order, T - (order - 1) * lag)
    np.testing.assert_array_equal(delayed[:, :C], x[:, :, (order - 1) * lag:])
    if shrinkage == "oas":
        covs = Covariances(estimator="oas").fit_transform(delayed)
    else:
        scm = Covariances(estimator="scm").fit_transform(delayed)
        covs = Shrinkage(shrinkage=shrinkage).fit_transform(scm)
    expected = TangentSpace(metric="riemann").fit_transform(covs)  # (N, F)
    with torch.no_grad():
        features = encoder.features(torch.from_numpy(x), torch.zeros(len(x), dtype=torch.long))
    np.testing.assert_allclose(features.numpy(), expected, rtol=0,
                               atol=1e-7 * np.abs(expected).max())


def test_recentring_puts_each_subject_and_an_adapted_unseen_one_at_its_own_mean():
    rng = np.random.default_rng(3)
    patterns, latent = rng.normal(size=(D, C)), rng.normal(size=(90, D))
    gains = np.exp(rng.normal(size=(3, C)))  # (subjects, C): electrode gains of each subject
    subject = np.repeat(np.arange(3), 30)
    x = (gains[subject][:, :, None] * power_trials(rng, latent, patterns, T)).astype(np.float32)
    train = SplitArrays(x=x[:60], subject=subject[:60], target=latent[:60].astype(np.float32),
                        stimulus=np.arange(60))
    encoder = RiemannEncoder(C, T, 100.0, D, 2, np.zeros((C, 3)), alphas=[1.0], recentre=True)
    encoder.fit_closed_form(train, train)
    assert encoder.subject_whitening.shape == (3, C, C)  # two subjects and the unseen one
    torch.testing.assert_close(encoder.subject_whitening[2], encoder.whitening)
    assert encoder.adapt_unseen(x[60:]) == {"recentred_unseen_on": 30}
    with torch.no_grad():
        for index, rows in ((0, slice(0, 30)), (1, slice(30, 60)), (2, slice(60, 90))):
            features = encoder.features(torch.from_numpy(x[rows]),
                                        torch.full((30,), index)).numpy()  # (30, F)
            # the log maps at a set's Riemannian mean sum to zero
            assert np.abs(features.mean(axis=0)).max() < 1e-6 * np.abs(features).max()
    assert RiemannEncoder(C, T, 100.0, D, 2, np.zeros((C, 3))).adapt_unseen(x[60:]) == {}


def test_save_load_round_trip_predicts_the_same(tmp_path):
    encoder, x = fitted(np.random.default_rng(1), order=2, lag=3)
    signal = {"n_chans": C, "n_times": T, "sfreq": 100.0, "n_outputs": D, "n_subjects": 1,
              "chs_pos": np.zeros((C, 3)).tolist()}
    model = ScaledEncoder(encoder, np.full(D, 2.0), np.full(D, 3.0), 1.0, rescale=False)
    config = {"encoder": "riemann", "signal": signal, "rescale_predictions": False,
              "options": encoder.options.model_dump()}
    save_model(model, config, tmp_path)
    loaded, _ = load_encoder(tmp_path)
    x, subject = torch.from_numpy(x), torch.zeros(len(x), dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, subject), model.eval()(x, subject), rtol=0, atol=0)
    assert loaded.encoder.whitening.dtype == torch.float64


def test_beats_chance_on_a_planted_band_power_study(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")  # 30 stimuli x 2 subjects; 6 test stimuli
    pre = study["preprocessed"]
    trials = read_tsv(pre / "trials.tsv")
    rows = trials["stimulus_id"].str[4:].astype(int).to_numpy()
    rng = np.random.default_rng(0)
    n_chans, n_times = np.load(pre / "epochs.npy").shape[1:]
    latent = (study["latents"][rows] - 5.0) / 2.0  # (N, 6), standard normal
    x = power_trials(rng, latent, rng.normal(size=(latent.shape[1], n_chans)), n_times)
    np.save(pre / "epochs.npy", x.astype(np.float32))
    options = {"alphas": [1.0, 10.0, 100.0], "order": 2}
    summary = fit_encoder("riemann", options, TrainConfig(), pre, study["targets"],
                          tmp_path / "model")
    assert summary["fit_method"] == "closed_form" and summary["alpha"] in options["alphas"]
    predict_latents(tmp_path / "model", pre, tmp_path / "pred", splits=["test"])
    predictions = np.load(tmp_path / "pred" / "predictions.npy")
    test = pd.read_csv(tmp_path / "pred" / "trials.tsv", sep="\t", dtype={"subject": str})
    ids = sorted(set(test["stimulus_id"]))
    gallery = study["latents"][[int(stimulus[4:]) for stimulus in ids]] - 5.0  # (6, D)
    queries = predictions - 5.0  # (n_test, D), centred as the gallery
    scores = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        gallery / np.linalg.norm(gallery, axis=1, keepdims=True)).T  # (n_test, 6) cosine
    top1 = np.mean(np.asarray(ids)[scores.argmax(axis=1)] == test["stimulus_id"].to_numpy())
    assert top1 > 2.5 / len(ids)


def test_epochs_too_short_for_the_delays_or_a_covariance_are_a_params_error():
    with pytest.raises(ParamsError, match=r"riemann.*order 5 and lag 10 leave 0 of the epoch's"):
        RiemannEncoder(C, T, 100.0, D, 1, np.zeros((C, 3)), order=5, lag=10)
    with pytest.raises(ParamsError, match=r"riemann.*leave 1 .*fMRI estimates have 1"):
        RiemannEncoder(300, 1, 0.5, D, 1, np.zeros((300, 3)))  # betas: (trial, voxel, 1)
    with pytest.raises(ParamsError, match=r"riemann.*shrinkage"):
        RiemannEncoder(C, T, 100.0, D, 1, np.zeros((C, 3)), shrinkage=1.5)
