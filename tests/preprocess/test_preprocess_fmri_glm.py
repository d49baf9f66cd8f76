"""Single-trial estimators: HRF regressors, LSS against direct GLMs, lagged volume means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.preprocess.fmri_glm import (
    ESTIMATORS,
    event_regressors,
    lagged_trials,
    lsa_betas,
    lss_betas,
    nuisance_matrix,
    residualize,
)
from pipeline.preprocess.options import FmriPreprocessConfig

TR = 2.0


def _design(n_trials: int, isi: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    onsets = 6.0 + np.cumsum(rng.uniform(isi, isi + 3.0, n_trials))
    frame_times = np.arange(int((onsets[-1] + 24) / TR)) * TR
    regressors = event_regressors(onsets, np.ones(n_trials), frame_times, TR)  # (T, N)
    nuisance = nuisance_matrix(frame_times, 0.01, rng.standard_normal((len(frame_times), 2)))
    return onsets, frame_times, regressors, nuisance


def test_regressors_have_the_canonical_shape():
    frame_times = np.arange(0, 60, 0.5)
    single = event_regressors(np.array([10.0]), np.array([1.0]), frame_times, TR)[:, 0]
    assert 14.0 <= frame_times[single.argmax()] <= 16.5  # the Glover HRF peaks ~5 s after onset
    assert np.abs(single[frame_times < 10.0]).max() < 1e-12
    block = event_regressors(np.array([0.0]), np.array([40.0]), frame_times, TR)[:, 0]
    assert block[(frame_times > 25) & (frame_times < 40)] == pytest.approx(1.0, abs=0.02)
    late = event_regressors(np.array([10.0]), np.array([1.0]), frame_times, TR, hrf_onset=1.0)
    assert frame_times[late[:, 0].argmax()] == pytest.approx(frame_times[single.argmax()] + 1.0)


def test_nuisance_has_cosines_confounds_and_a_constant():
    frame_times = np.arange(200) * TR  # 400 s: cosines below 0.01 Hz
    base = nuisance_matrix(frame_times, None)
    assert base.shape == (200, 1) and np.all(base == 1.0)
    drift = nuisance_matrix(frame_times, 0.01)
    assert drift.shape[1] == 1 + int(np.floor(2 * 400 * 0.01))
    with_confounds = nuisance_matrix(frame_times, 0.01, np.ones((200, 3)))  # collinear
    assert with_confounds.shape[1] == drift.shape[1] + 3
    x = np.random.default_rng(0).standard_normal((200, 2))
    np.testing.assert_allclose(residualize(x, with_confounds), residualize(x, drift), atol=1e-10)
    np.testing.assert_allclose(residualize(x, base), x - x.mean(axis=0), atol=1e-12)


def test_lss_equals_one_direct_glm_per_trial():
    onsets, frame_times, regressors, nuisance = _design(15, 2.0)
    rng = np.random.default_rng(1)
    data = rng.standard_normal((len(frame_times), 6))  # (T, V)
    betas = lss_betas(data, regressors, nuisance)
    for trial in range(len(onsets)):
        others = regressors.sum(axis=1) - regressors[:, trial]
        design = np.column_stack([regressors[:, trial], others, nuisance])
        direct = np.linalg.lstsq(design, data, rcond=None)[0][0]
        np.testing.assert_allclose(betas[trial], direct, rtol=1e-8, atol=1e-10)


def _accuracy(estimator, isi: float, noise: float) -> float:
    """Correlation of estimated and true betas (40 trials, 50 voxels, plus nuisance)."""
    onsets, frame_times, regressors, nuisance = _design(40, isi)
    rng = np.random.default_rng(2)
    truth = rng.standard_normal((40, 50))  # (N, V)
    data = regressors @ truth + nuisance @ rng.standard_normal((nuisance.shape[1], 50))
    data += noise * rng.standard_normal(data.shape)
    return np.corrcoef(estimator(data, regressors, nuisance).ravel(), truth.ravel())[0, 1]


def test_lsa_is_the_exact_full_glm():
    assert _accuracy(lsa_betas, 4.0, 0.0) == pytest.approx(1.0, abs=1e-10)


def test_lss_recovers_known_betas_and_beats_lsa_in_noise():
    """LSS trades a little leakage between trials for much less noise (Mumford et al. 2012)."""
    assert _accuracy(lss_betas, 4.0, 0.05) > 0.85
    assert _accuracy(lss_betas, 2.0, 0.5) > _accuracy(lsa_betas, 2.0, 0.5) + 0.1


def test_lss_of_a_single_trial_run():
    onsets, frame_times, regressors, nuisance = _design(1, 4.0)
    data = 3.0 * regressors + 0.01 * np.random.default_rng(3).standard_normal(regressors.shape)
    assert lss_betas(data, regressors, nuisance)[0, 0] == pytest.approx(3.0, abs=0.05)


def _events(onsets, duration=1.0):
    return pd.DataFrame({"onset": onsets, "duration": duration,
                         "stimulus_id": [f"s{i}" for i in range(len(onsets))]})


def test_lagged_means_average_the_lag_window():
    frame_times = np.arange(30) * TR
    cfg = FmriPreprocessConfig(estimator="lagged", lag_window=(4.0, 8.0), high_pass=None)
    data = np.tile(frame_times[:, None], (1, 3))  # each volume holds its own time
    estimates, trials = ESTIMATORS.get("lagged")(data, frame_times, _events([10.0, 20.0, 55.0]),
                                                nuisance_matrix(frame_times, None), cfg)
    assert list(trials["stimulus_id"]) == ["s0", "s1"]  # nothing 4-8 s after 55 s: dropped
    clean_mean = frame_times.mean()
    np.testing.assert_allclose(estimates[:, 0], [15.0 - clean_mean, 25.0 - clean_mean])


def test_split_events_make_one_trial_per_volume_shifted_by_the_lag():
    frame_times = np.arange(40) * 2.5
    cfg = FmriPreprocessConfig(estimator="lagged", lag_window=(5.0, 7.5), split_events=True)
    trials, weights = lagged_trials(_events([10.0, 50.0], duration=22.5), frame_times, cfg)
    assert len(trials) == 18  # 9 volumes per 22.5 s block
    assert list(trials["stimulus_id"]) == ["s0"] * 9 + ["s1"] * 9
    np.testing.assert_allclose(trials["onset"].to_numpy()[:9], 10.0 + 2.5 * np.arange(9))
    volumes = weights.argmax(axis=1)
    np.testing.assert_allclose(frame_times[volumes][:9], 15.0 + 2.5 * np.arange(9))
    assert np.all(weights.sum(axis=1) == 1.0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"estimator": "nope"}, "unknown single-trial estimator 'nope'; expected one of lagged"),
    ({"mask": "brain"}, "unknown fMRI mask 'brain'; expected one of auto"),
    ({"lag_window": [6.0, 4.0]}, r"lag_window: got \[6\.0, 4\.0\]"),
])
def test_options_are_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        FmriPreprocessConfig.model_validate(changes)


def test_glm_drops_events_after_the_last_volume():
    frame_times = np.arange(30) * TR
    data = np.random.default_rng(0).standard_normal((30, 4))
    estimates, trials = ESTIMATORS.get("lss")(data, frame_times, _events([10.0, 30.0, 70.0]),
                                             nuisance_matrix(frame_times, None), None)
    assert list(trials["stimulus_id"]) == ["s0", "s1"]
    assert estimates.shape == (2, 4) and np.isfinite(estimates).all()
