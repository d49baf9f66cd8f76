"""The Bayes-optimal Gaussian oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV

from pipeline.errors import DataError
from pipeline.evaluation.metrics import METRICS
from pipeline.evaluation.oracle import oracle_scores, whitener
from pipeline.evaluation.retrieval import retrieval_scores

N_CHANS, N_TIMES = 4, 6


def test_exact_templates_and_tiny_noise_give_top1_of_one(make_study) -> None:
    study = make_study(n_test=8, oracle_noise=1e-4)
    gallery = tuple(sorted(study.stimuli.loc[study.stimuli["split"] == "test", "stimulus_id"]))
    for average in (False, True):
        result = oracle_scores(study.oracle, gallery, ["01", "02"], average)
        assert result.n_queries == (2 * 8 if average else 2 * 8 * 3)
        assert METRICS.get("top1").per_query(result.scores, result.true_index).mean() == 1.0
        assert set(result.query_subject) == {"01", "02"}


def test_gallery_order_follows_the_decoder(make_study) -> None:
    study = make_study(n_test=5, oracle_noise=1e-4)
    gallery = tuple(sorted(study.stimuli.loc[study.stimuli["split"] == "test", "stimulus_id"]))
    reordered = gallery[::-1]
    result = oracle_scores(study.oracle, reordered, ["sub-01"], average_repetitions=True)
    assert result.gallery == reordered
    assert np.array_equal(np.array(reordered)[result.true_index], result.query_stimulus)
    assert np.array_equal(result.scores.argmax(axis=1), result.true_index)


def test_missing_subject_or_stimulus_is_a_data_error(make_study) -> None:
    study = make_study()
    gallery = tuple(sorted(study.stimuli.loc[study.stimuli["split"] == "test", "stimulus_id"]))
    with pytest.raises(DataError, match="sub-07_oracle.npz: file not found"):
        oracle_scores(study.oracle, gallery, ["07"], average_repetitions=True)
    with pytest.raises(DataError, match="no template for test stimuli"):
        oracle_scores(study.oracle, (*gallery, "stim9999"), ["01"], average_repetitions=True)


def test_singular_covariance_gets_a_tiny_ridge() -> None:
    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((6, 2))
    factor = whitener(low_rank @ low_rank.T)
    assert np.all(np.isfinite(factor))
    np.testing.assert_allclose(factor @ factor.T, low_rank @ low_rank.T, atol=1e-3)


def test_oracle_beats_ridge_on_a_tiny_known_case(tmp_path, oracle_writer) -> None:
    rng = np.random.default_rng(0)
    n_train, n_test, n_reps, dim = 80, 20, 2, 8
    n_features = N_CHANS * N_TIMES
    latents = rng.standard_normal((n_train + n_test, dim))  # (n_stimuli, dim)
    templates = np.tanh(latents @ rng.standard_normal((dim, n_features)))  # (n_stimuli, D)
    mixing = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
    noise_cov = 1.5**2 * (3 * mixing @ mixing.T + 0.2 * np.eye(n_features))  # (D, D)
    factor = np.linalg.cholesky(noise_cov)
    ids = [f"stim{index:04d}" for index in range(n_train + n_test)]
    stimuli = pd.DataFrame({"stimulus_id": ids, "split": ["train"] * n_train + ["test"] * n_test})

    rows = np.concatenate([np.arange(n_train), np.repeat(np.arange(n_train, n_train + n_test),
                                                         n_reps)])
    trials_x = templates[rows] + rng.standard_normal((len(rows), n_features)) @ factor.T
    trials = pd.DataFrame({
        "subject": "01",
        "stimulus_id": [ids[row] for row in rows],
        "split": ["train" if row < n_train else "test" for row in rows],
    })
    is_train = (trials["split"] == "train").to_numpy()
    ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(trials_x[is_train], latents[rows[is_train]])
    predictions = ridge.predict(trials_x)  # (n_trials, dim)
    decoded = retrieval_scores(predictions, trials, latents, stimuli, average_repetitions=True)

    test_rows = rows[~is_train]
    test_ids = ids[n_train:]
    oracle_writer(
        tmp_path, "01", templates[n_train:].reshape(-1, N_CHANS, N_TIMES), test_ids,
        trials_x[~is_train].reshape(-1, N_CHANS, N_TIMES), [ids[row] for row in test_rows],
        noise_cov,
    )
    oracle = oracle_scores(tmp_path, decoded.gallery, ["01"], average_repetitions=True)
    assert oracle.n_queries == decoded.n_queries == n_test
    for name in ("top1", "two_way"):
        metric = METRICS.get(name)
        ridge_score = metric.per_query(decoded.scores, decoded.true_index).mean()
        oracle_score = metric.per_query(oracle.scores, oracle.true_index).mean()
        assert oracle_score > ridge_score, name
    assert METRICS.get("top1").per_query(oracle.scores, oracle.true_index).mean() > 1 / n_test
