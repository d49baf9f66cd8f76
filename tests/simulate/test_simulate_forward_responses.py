"""Forward model and evoked responses."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.simulate.eeg import CHANNELS, EEG, standard_montage
from pipeline.simulate.forward import make_head
from pipeline.simulate.recording import simulate_subject
from pipeline.simulate.responses import (
    LATENCY_RANGE,
    make_response_model,
    response_times,
    source_activity,
)
from pipeline.simulate.stimuli import make_stimuli


@pytest.fixture(scope="module")
def template(tiny_cfg):
    return EEG.make_template(tiny_cfg)


def test_montage_has_64_standard_channels(template):
    assert len(CHANNELS) == 64 == len(set(CHANNELS))
    assert set(CHANNELS) <= set(standard_montage().ch_names)
    assert template.info["ch_names"] == list(CHANNELS)
    positions = np.array([ch["loc"][:3] for ch in template.info["chs"]])
    assert np.isfinite(positions).all() and np.linalg.norm(positions, axis=1).min() > 0.05


def test_forward_shapes_and_subject_differences(template, tiny_cfg):
    first = make_head(template, tiny_cfg.seed, 0)
    second = make_head(template, tiny_cfg.seed, 1)
    assert first.gains["evoked"].shape == (64, tiny_cfg.n_sources)
    assert first.gains["alpha"].shape == (64, 2)
    assert first.gains["noise"].shape[0] == 64
    for gain in first.gains.values():
        assert np.isfinite(gain).all() and np.abs(gain).max() > 0
    np.testing.assert_array_equal(make_head(template, tiny_cfg.seed, 0).gains["evoked"],
                                  first.gains["evoked"])
    a, b = first.gains["evoked"].ravel(), second.gains["evoked"].ravel()
    correlation = np.corrcoef(a, b)[0, 1]
    assert 0.8 < correlation < 0.99999  # same brain, different head position
    assert first.response_gain != second.response_gain
    assert np.abs(first.translation).max() < 0.02


def test_alpha_topography_is_posterior(template, tiny_cfg):
    gain = np.abs(make_head(template, tiny_cfg.seed, 0).gains["alpha"].sum(axis=1))
    assert gain[CHANNELS.index("Oz")] > 3 * gain[CHANNELS.index("Fz")]


def test_kernels_have_latencies_and_start_and_end_at_zero(tiny_cfg):
    model = make_response_model(0, 6, 19, 250.0)
    assert model.kernels.shape == (6, 2, response_times(250.0).size)
    assert np.all((model.latencies >= LATENCY_RANGE[0]) & (model.latencies <= LATENCY_RANGE[1]))
    peaks = response_times(250.0)[np.abs(model.kernels).argmax(-1)]
    assert np.all(np.abs(peaks - model.latencies) < 0.03)
    assert np.abs(model.kernels[..., 0]).max() < 0.05
    assert np.abs(model.kernels[..., -1]).max() < 1e-6


def test_responses_deterministic_per_subject_and_stimulus(template, tiny_cfg):
    stimuli = make_stimuli(tiny_cfg)
    model = make_response_model(tiny_cfg.seed, tiny_cfg.n_sources, stimuli.latents.shape[1],
                                tiny_cfg.sfreq)
    sources = source_activity(model, stimuli.latents)
    first = simulate_subject(tiny_cfg, template, sources, stimuli.table, 0)
    again = simulate_subject(tiny_cfg, template, sources, stimuli.table, 0)
    other = simulate_subject(tiny_cfg, template, sources, stimuli.table, 1)
    np.testing.assert_array_equal(first.evoked, again.evoked)
    assert first.evoked.shape == (20, 64, response_times(tiny_cfg.sfreq).size)
    # responses differ across stimuli ...
    flat = first.evoked.reshape(20, -1)
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)[np.triu_indices(20, 1)]
    assert distances.min() > 0.05 * np.linalg.norm(flat, axis=1).mean()
    # ... and across subjects, through the head only: the sources are shared
    assert not np.allclose(first.evoked, other.evoked)
    activity = source_activity(model, stimuli.latents)
    np.testing.assert_array_equal(activity, source_activity(model, stimuli.latents))


def test_evoked_rms_follows_snr(template, make_config):
    from pipeline.simulate.stimuli import make_stimuli as stimuli_of

    cfg = make_config(snr=0.5)
    stimuli = stimuli_of(cfg)
    model = make_response_model(cfg.seed, cfg.n_sources, stimuli.latents.shape[1], cfg.sfreq)
    subject = simulate_subject(cfg, template, source_activity(model, stimuli.latents),
                               stimuli.table, 0)
    good = subject.noise.good
    rms = np.sqrt(np.mean(subject.evoked[:, good] ** 2))
    expected = 0.5 * subject.noise.rms * subject.head.response_gain * subject.noise.units[0]
    np.testing.assert_allclose(rms, expected)
    assert 1e-7 < rms < 1e-4  # volts: micro-volt scale
