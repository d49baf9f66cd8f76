"""Parts of the fMRI simulator: voxel grid, response maps, noise, design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.simulate.fmri_design import fmri_schedule, trials_per_run
from pipeline.simulate.fmri_noise import (
    PHYSIO_COLUMNS,
    FmriNoiseModel,
    make_noise_model,
    noise_run,
    physio_regressors,
)
from pipeline.simulate.fmri_subject import component_amplitudes, event_peak, make_fmri_subject
from pipeline.simulate.fmri_voxels import draw_blobs, make_grid
from pipeline.simulate.options import FmriConfig, FmriNoiseConfig, SimulateConfig
from pipeline.simulate.responses import make_response_model
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.stimuli import make_stimuli


@pytest.fixture(scope="module")
def grid():
    return make_grid(12.0)


def test_grid_is_the_mni_brain(grid):
    assert grid.ijk.shape == grid.xyz.shape == (len(grid.region), 3)
    assert np.asarray(grid.mask.dataobj)[tuple(grid.ijk.T)].all()
    assert -80 < grid.xyz[:, 0].min() and grid.xyz[:, 0].max() < 80  # mm, within a head
    assert 0.05 < grid.region.mean() < 0.4
    assert (grid.xyz[grid.region, 1] <= -40).all()


def _noise_model(grid, tr: float = 2.0, **amplitudes) -> FmriNoiseModel:
    cfg = FmriNoiseConfig.model_validate(
        {"thermal": 0.0, "network": 0.0, "physio": 0.0, "drift": 0.0, **amplitudes}
    )
    return make_noise_model(cfg, tr, grid, np.random.default_rng(0))


@pytest.mark.parametrize("component", ["thermal", "network", "physio", "drift"])
def test_each_noise_component_has_its_rms(grid, component):
    model = _noise_model(grid, **{component: 2.0})
    noise, _ = noise_run(model, 300, np.random.default_rng(1))
    assert model.rms == 2.0
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(2.0, rel=0.3)


def test_thermal_noise_is_ar1(grid):
    model = _noise_model(grid, thermal=1.0)
    noise, _ = noise_run(model, 400, np.random.default_rng(2))
    lag1 = np.mean(noise[1:] * noise[:-1]) / np.mean(noise**2)
    assert lag1 == pytest.approx(model.cfg.ar1, abs=0.03)


def test_physiological_regressors_are_aliased_at_the_tr(grid):
    """Sampled every 2 s, a ~1.1 Hz cardiac cycle shows near |1.1 - 2 * 0.5| = 0.1 Hz."""
    model = _noise_model(grid, physio=1.0)
    regressors = physio_regressors(model, 600, np.random.default_rng(3))  # (T, 8)
    assert regressors.shape == (600, len(PHYSIO_COLUMNS))
    spectrum = np.abs(np.fft.rfft(regressors[:, PHYSIO_COLUMNS.index("cardiac_sin1")])) ** 2
    peak = np.fft.rfftfreq(600, model.tr)[spectrum.argmax()]
    nyquist = 0.5 / model.tr
    aliased = abs(((model.cardiac_hz + nyquist) % (2 * nyquist)) - nyquist)
    assert model.cardiac_hz > nyquist
    assert peak == pytest.approx(aliased, abs=0.05)  # the rate drifts by a few percent


def test_physio_noise_is_mostly_explained_by_its_regressors(grid):
    model = _noise_model(grid, physio=1.0)
    noise, regressors = noise_run(model, 300, np.random.default_rng(4))
    design = np.column_stack([regressors, np.ones(300)])
    residual = noise - design @ np.linalg.lstsq(design, noise, rcond=None)[0]
    explained = 1 - np.sum(residual**2) / np.sum((noise - noise.mean(0)) ** 2)
    assert 0.8 < explained < 0.99  # the slow envelope is not in the regressors


@pytest.fixture(scope="module")
def subject(grid):
    cfg = SimulateConfig.model_validate({
        "modality": "fmri", "stimuli": {"train": 20, "val": 4, "test": 4}, "image_size": 32,
        "n_sources": 8, "snr": 0.5, "fmri": {"voxel_size": 12.0},
    })
    stimuli = make_stimuli(cfg)
    responses = make_response_model(cfg.seed, cfg.n_sources, stimuli.latents.shape[1], cfg.sfreq)
    components = component_amplitudes(responses, stimuli.latents)
    blobs = draw_blobs(grid, components.shape[1], 2, make_rng(0, "fmri maps"))
    return cfg, make_fmri_subject(cfg, grid, components, blobs, stimuli, 0)


def test_responses_are_occipito_temporal_and_scaled_by_snr(grid, subject):
    cfg, subj = subject
    variance = subj.amplitudes.var(axis=0)  # (V,)
    assert variance[grid.region].mean() > 10 * variance[~grid.region].mean()
    peak_rms = event_peak(cfg.fmri) * np.sqrt(np.mean(subj.amplitudes[:, grid.region] ** 2))
    assert peak_rms == pytest.approx(cfg.snr * subj.noise.rms * subj.gain, rel=1e-6)


def test_event_peak_of_a_one_second_event():
    assert 0.2 < event_peak(FmriConfig()) < 0.5  # unit-area HRF: a long block plateaus at 1


def test_schedule_deals_trials_into_runs():
    cfg = SimulateConfig.model_validate({
        "stimuli": {"train": 120, "val": 20, "test": 20}, "test_repetitions": 4,
    })
    stimuli = pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(160)],
                            "split": ["train"] * 120 + ["val"] * 20 + ["test"] * 20})
    schedule = fmri_schedule(stimuli, cfg, np.random.default_rng(0))
    assert len(schedule) == 120 + 20 + 80
    per_run = schedule.groupby("run").size()
    assert per_run.max() - per_run.min() <= 1 and per_run.max() <= trials_per_run(cfg.fmri)
    durations = schedule.groupby("run")["onset"].max()
    assert (durations < cfg.fmri.run_duration).all() and (durations > 0.6 * 540).all()
    assert schedule.groupby("stimulus_id")["repetition"].max().max() == 3
