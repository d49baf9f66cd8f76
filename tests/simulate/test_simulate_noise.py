"""Noise spectra, scale and bad channels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from pipeline.simulate.covariance import noise_covariance
from pipeline.simulate.eeg import CHANNELS, EEG, NOISE_UNIT
from pipeline.simulate.faults import apply_channel_faults
from pipeline.simulate.forward import make_head
from pipeline.simulate.noise import background, make_noise_model
from pipeline.simulate.options import NoiseConfig
from pipeline.simulate.waveforms import pink_amplitude, shaped_noise

SFREQ = 250.0


@pytest.fixture(scope="module")
def subject_parts(tiny_cfg):
    template = EEG.make_template(tiny_cfg)
    return template, make_head(template, tiny_cfg.seed, 0)


def _model(subject_parts, **noise):
    template, head = subject_parts
    return make_noise_model(NoiseConfig(**noise), SFREQ, template, head, 0, 0)


def _psd(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return welch(data, fs=SFREQ, nperseg=int(4 * SFREQ), axis=-1)


def test_pink_noise_has_one_over_f_slope():
    series = shaped_noise(np.random.default_rng(0), 8, int(120 * SFREQ), SFREQ, pink_amplitude)
    np.testing.assert_allclose(series.var(), 1.0, rtol=0.1)
    freqs, power = _psd(series)
    band = (freqs >= 2) & (freqs <= 40)
    slope = np.polyfit(np.log(freqs[band]), np.log(power.mean(0)[band]), 1)[0]
    assert -1.15 < slope < -0.85


def test_background_has_alpha_and_line_peaks(subject_parts):
    model = _model(subject_parts, drift=0.0, blinks_per_minute=0.0, bad_channels=0)
    data = background(model, int(60 * SFREQ), np.random.default_rng(1))
    freqs, power = _psd(data)
    at = lambda f, ch: power[CHANNELS.index(ch), np.argmin(np.abs(freqs - f))]  # noqa: E731
    alpha = model.alpha_frequency
    assert at(alpha, "Oz") > 3 * max(at(alpha - 4, "Oz"), at(alpha + 5, "Oz"))
    assert at(alpha, "Oz") / at(alpha - 4, "Oz") > at(alpha, "Fz") / at(alpha - 4, "Fz")
    assert at(50.0, "Cz") > 100 * at(45.0, "Cz")
    assert at(100.0, "Cz") > 10 * at(95.0, "Cz")


def test_expected_rms_matches_the_simulated_noise(subject_parts):
    model = _model(subject_parts, bad_channels=0)
    data = background(model, int(300 * SFREQ), np.random.default_rng(2))
    np.testing.assert_allclose(np.sqrt(np.mean(data**2)), model.rms * NOISE_UNIT, rtol=0.2)
    assert 5e-6 < model.rms * NOISE_UNIT < 1e-4  # tens of microvolts


def test_blinks_are_frontal(subject_parts):
    model = _model(subject_parts, pink=0.0, white=0.01, alpha=0.0, line=0.0, drift=0.0,
                   blinks_per_minute=30.0, bad_channels=0)
    data = background(model, int(60 * SFREQ), np.random.default_rng(3))
    assert np.abs(data[CHANNELS.index("Fp1")]).max() > 4 * NOISE_UNIT
    assert np.abs(data[CHANNELS.index("Fp1")]).max() > 5 * np.abs(data[CHANNELS.index("Oz")]).max()


def test_bad_channels_are_flat_or_noisy(subject_parts):
    model = _model(subject_parts, bad_channels=6)
    assert len(model.bad_channels) == 6 and model.good.sum() == 58
    data = apply_channel_faults(model, background(model, 5000, np.random.default_rng(4)),
                                np.random.default_rng(5))
    good_std = data[model.good].std(axis=1).mean()
    for name, kind in model.bad_channels.items():
        std = data[CHANNELS.index(name)].std()
        assert std < 0.1 * good_std if kind == "flat" else std > 3 * good_std


def test_noise_covariance_is_sklearn_ledoit_wolf():
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(6)
    windows = rng.standard_normal((150, 3, 8)) @ rng.standard_normal((8, 8))
    expected = LedoitWolf(assume_centered=True).fit(windows.reshape(150, -1)).covariance_
    np.testing.assert_allclose(noise_covariance(windows), expected, rtol=1e-10, atol=1e-12)
