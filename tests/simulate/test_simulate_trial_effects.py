"""Single-trial effects of the simulator: latency jitter, amplitude gain, induced bursts, run
drift, subject-specific sources; each off by default, each measured on simulated trials."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.simulate.eeg import EEG
from pipeline.simulate.forward import make_head
from pipeline.simulate.oracle import expected_responses, make_oracle
from pipeline.simulate.recording import record, simulate_subject, trial_responses
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.stimulus_sets import make_image_set
from pipeline.simulate.trial_effects import draw_trials, schedule_runs, shift

N_DRAWS = 400


@pytest.fixture(scope="module")
def template(tiny_cfg):
    return EEG.make_template(tiny_cfg)


@pytest.fixture(scope="module")
def image_set(tiny_cfg):
    return make_image_set(tiny_cfg)


def subject_with(make_config, template, image_set, **changes):
    """Subject 0 of the tiny study with ``changes`` to its options."""
    cfg = make_config(**changes)
    return cfg, simulate_subject(cfg, template, image_set.source_activity(cfg), image_set.table, 0)


def draws_of(subject, n=N_DRAWS, runs=None, seed=1):
    """``n`` fresh trial draws (all in run 0 unless ``runs``)."""
    runs = np.zeros(n, dtype=np.int64) if runs is None else runs
    return draw_trials(subject.effects, runs, make_rng(seed, "test draws"))


def test_defaults_leave_the_subject_and_its_recording_as_before(make_config, template, image_set,
                                                                tiny_cfg):
    cfg, subject = subject_with(make_config, template, image_set)
    assert subject.effects is None
    for response, index in zip(trial_responses(subject, cfg.seed),
                               subject.schedule["stimulus_index"], strict=True):
        assert np.array_equal(response, subject.evoked[index])
    head = make_head(template, cfg.seed, 0)
    assert all(np.array_equal(head.gains[g], subject.head.gains[g]) for g in head.gains)
    assert np.array_equal(expected_responses(subject, np.arange(3)), subject.evoked[:3])
    explicit = make_config(variability={"latency_ms": 0, "amplitude_sd": 0},
                           induced={"amplitude": 0}, run_drift={"gain_sd": 0},
                           subject_sources={"position_mm": 0, "orientation_deg": 0})
    assert explicit == tiny_cfg
    _, again = subject_with(make_config, template, image_set, **explicit.model_dump(
        include={"variability", "induced", "run_drift", "subject_sources"}))
    assert np.array_equal(record(again, cfg.seed), record(subject, cfg.seed))


def test_shift_delays_by_fractional_samples():
    times = np.arange(200) / 250.0
    bump = np.exp(-0.5 * ((times - 0.3) / 0.02) ** 2)[None, :]  # (1, T)
    shifted = shift(bump, np.array([0.01]), 250.0)
    expected = np.exp(-0.5 * ((times - 0.31) / 0.02) ** 2)
    assert np.max(np.abs(shifted[0] - expected)) < 0.01
    assert np.array_equal(shift(bump, np.array([0.0]), 250.0), bump)


@pytest.mark.parametrize("per_source", [False, True])
def test_latency_jitter_spreads_single_trial_peaks_by_its_sd(make_config, template, image_set,
                                                              per_source):
    cfg, subject = subject_with(make_config, template, image_set,
                                variability={"latency_ms": 20.0, "latency_per_source": per_source})
    draws = draws_of(subject)
    sources = subject.effects.sources[0]  # (S, T)
    source = int(np.argmax(np.abs(sources).max(axis=1)))
    peak = np.argmax(np.abs(sources[source]))
    peaks = []
    for trial in range(N_DRAWS):
        response = subject.effects.response(0, draws, trial)  # (C, T)
        unmixed = np.linalg.lstsq(subject.effects.mixing, response, rcond=None)[0]  # (S, T)
        window = np.abs(unmixed[source, max(peak - 25, 0) : peak + 25])
        peaks.append(np.argmax(window))
    spread_ms = np.std(peaks) / cfg.sfreq * 1000
    assert spread_ms == pytest.approx(20.0, rel=0.15)
    assert np.std(draws.delays[:, 0] - draws.delays[:, 1]) > 0 if per_source else np.all(
        draws.delays[:, 0] == draws.delays[:, 1])


def test_amplitude_gain_is_lognormal_with_its_sd(make_config, template, image_set):
    _, subject = subject_with(make_config, template, image_set, variability={"amplitude_sd": 0.3})
    draws = draws_of(subject, n=2000)
    evoked = subject.evoked[0]
    gains = [np.sum(subject.effects.response(0, draws, t) * evoked) / np.sum(evoked**2)
             for t in range(200)]
    assert np.allclose(gains, draws.gains[:200], rtol=1e-6)
    assert np.std(np.log(draws.gains)) == pytest.approx(0.3, rel=0.08)
    assert np.mean(draws.gains) == pytest.approx(1.0, abs=0.03)


def band_power(data, sfreq, band):
    """Power in ``band`` of each trial's FFT, summed over channels. (n, C, T) -> (n,)."""
    freqs = np.fft.rfftfreq(data.shape[-1], 1 / sfreq)
    spectra = np.abs(np.fft.rfft(data, axis=-1)) ** 2
    return spectra[..., (freqs >= band[0]) & (freqs <= band[1])].sum(axis=(-1, -2))


def test_induced_bursts_vanish_in_the_average_but_their_power_carries_the_stimulus(
        make_config, template, image_set):
    cfg, subject = subject_with(make_config, template, image_set, induced={"amplitude": 1.0})
    draws = draws_of(subject, n=300)
    averages, powers = [], []
    for stimulus in (0, 1, 2, 3):
        trials = np.stack([subject.effects.response(stimulus, draws, t) for t in range(300)])
        averages.append(np.mean(trials, axis=0) - subject.evoked[stimulus])
        powers.append(band_power(trials - subject.evoked[stimulus], cfg.sfreq, cfg.induced.band))
    evoked_rms = np.sqrt(np.mean(subject.evoked[:4] ** 2))
    residual_rms = np.sqrt(np.mean(np.stack(averages) ** 2))
    single_rms = np.sqrt(np.mean(np.stack(
        [subject.effects.response(0, draws, t) - subject.evoked[0] for t in range(50)]) ** 2))
    assert residual_rms < 0.15 * single_rms  # ~ 1 / sqrt(300) of a single trial's bursts
    assert single_rms > 0.5 * evoked_rms
    means = np.array([np.mean(p) for p in powers])
    errors = np.array([np.std(p) / np.sqrt(len(p)) for p in powers])
    assert (means.max() - means.min()) > 10 * errors.max()  # band power depends on the stimulus
    assert np.allclose(expected_responses(subject, np.arange(4)), subject.evoked[:4], rtol=1e-9,
                       atol=1e-9 * np.abs(subject.evoked).max())


def test_run_drift_changes_each_sensors_gain_between_runs(make_config, template, image_set):
    _, subject = subject_with(make_config, template, image_set,
                              run_drift={"gain_sd": 0.2, "n_runs": 4})
    assert subject.effects.run_gains.shape == (4, 64)
    runs = schedule_runs(8, 4)
    assert runs.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    draws = draws_of(subject, n=8, runs=runs)
    evoked = subject.evoked[0]  # (C, T)
    measured = np.stack([np.sum(subject.effects.response(0, draws, t) * evoked, axis=1)
                         / np.sum(evoked**2, axis=1) for t in range(0, 8, 2)])  # (4, C)
    assert np.allclose(measured, subject.effects.run_gains, rtol=1e-6)
    assert np.std(np.log(measured)) == pytest.approx(0.2, rel=0.2)


def test_subject_sources_move_the_forward_by_the_param(make_config, template, image_set):
    changes = []
    for position_mm in (0.0, 2.0, 8.0):
        _, subject = subject_with(make_config, template, image_set,
                                  subject_sources={"position_mm": position_mm})
        reference = make_head(template, 0, 0).gains["evoked"]
        changes.append(np.linalg.norm(subject.head.gains["evoked"] - reference)
                       / np.linalg.norm(reference))
        assert np.array_equal(subject.head.gains["noise"], make_head(template, 0, 0).gains["noise"])
    assert changes[0] == 0 and 0 < changes[1] < changes[2]
    _, rotated = subject_with(make_config, template, image_set,
                              subject_sources={"orientation_deg": 20.0})
    assert not np.allclose(rotated.head.gains["evoked"], make_head(template, 0, 0).gains["evoked"])
    _, far = subject_with(make_config, template, image_set, subject_sources={"position_mm": 30.0})
    assert far.head.gains["evoked"].shape == reference.shape  # no dipole left the conductor
    assert np.isfinite(far.head.gains["evoked"]).all()


def test_oracle_covariance_holds_the_trial_variability(make_config, template, image_set):
    base_cfg, base = subject_with(make_config, template, image_set)
    cfg, subject = subject_with(make_config, template, image_set,
                                variability={"latency_ms": 15.0, "amplitude_sd": 0.4})
    base_oracle = make_oracle(base, record(base, base_cfg.seed), image_set.table, base_cfg)
    oracle = make_oracle(subject, record(subject, cfg.seed), image_set.table, cfg)
    assert oracle.noise_cov.shape == base_oracle.noise_cov.shape
    assert np.trace(oracle.noise_cov) > np.trace(base_oracle.noise_cov)
    # templates: the latency-averaged response is smoother, hence of smaller peak
    assert np.abs(oracle.templates).max() < np.abs(base_oracle.templates).max()


def test_effects_validate_their_values(make_config):
    with pytest.raises(ValueError, match="induced.band"):
        make_config(induced={"amplitude": 1.0, "band": [40.0, 130.0]})
    with pytest.raises(ValueError, match="latency_ms"):
        make_config(variability={"latency_ms": -1.0})
    with pytest.raises(ValueError, match="run_drift.gain_sd=0.2 with modality 'fmri'"):
        make_config(modality="fmri", run_drift={"gain_sd": 0.2})
