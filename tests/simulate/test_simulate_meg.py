"""The simulated MEG: helmet, forward model, BIDS FIF recording, oracle."""

from __future__ import annotations

import numpy as np
import pytest
from mne.io.constants import FIFF
from mne_bids import BIDSPath, read_raw_bids

from pipeline.io import read_json
from pipeline.simulate.forward import make_head
from pipeline.simulate.meg import (
    DEVICE_TO_HEAD,
    HEAD_CENTRE,
    HEAD_RADIUS,
    MEG,
    N_LOCATIONS,
    helmet_locations,
)
from pipeline.simulate.modalities import simulate_study


@pytest.fixture(scope="module")
def meg_cfg(make_config):
    """One subject, 6 test stimuli shown twice, a high snr, few noise epochs."""
    return make_config(modality="meg", n_subjects=1, sfreq=200.0, snr=0.5,
                       stimuli={"train": 4, "val": 2, "test": 6},
                       oracle={"n_noise_epochs": 100})


@pytest.fixture(scope="module")
def meg_study(tmp_path_factory, meg_cfg):
    root = tmp_path_factory.mktemp("meg") / "raw"
    simulate_study(meg_cfg, root)
    return root


@pytest.fixture(scope="module")
def raw(meg_study):
    path = BIDSPath(subject="01", task="images", datatype="meg", root=meg_study)
    return read_raw_bids(path, verbose=False)


def test_helmet_spreads_sensors_evenly():
    positions, normals = helmet_locations()
    assert positions.shape == normals.shape == (N_LOCATIONS, 3)
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.min(axis=1)  # (L,)
    assert 0.02 < nearest.min() and nearest.max() < 0.05  # Vectorview: about 3.4 cm apart
    centre = np.asarray(HEAD_CENTRE) - np.asarray(DEVICE_TO_HEAD)  # head centre, device frame
    assert np.all(np.sum(normals * (positions - centre), axis=1) > 0)  # outward normals


def test_bids_fif_reads_back_with_mags_and_grads(meg_study, raw, meg_cfg):
    folder = meg_study / "sub-01" / "meg"
    for name in ("task-images_meg.fif", "task-images_channels.tsv", "coordsystem.json",
                 "task-images_events.tsv"):
        assert (folder / f"sub-01_{name}").is_file(), name
    assert "MEG" in read_json(meg_study / "dataset_description.json")["Name"]
    types = raw.get_channel_types()
    assert types.count("mag") == 102 and types.count("grad") == 204
    assert raw.ch_names[:3] == ["MEG0011", "MEG0012", "MEG0013"]
    coils = {channel["coil_type"] for channel in raw.info["chs"]}
    assert coils == {FIFF.FIFFV_COIL_VV_MAG_T3, FIFF.FIFFV_COIL_VV_PLANAR_T1}
    assert raw.info["sfreq"] == meg_cfg.sfreq
    assert len(raw.annotations) == 4 + 2 + 6 * 2
    # sensors sit 2-4 cm outside the scalp, in head coordinates
    transform = raw.info["dev_head_t"]["trans"]
    positions = np.array([channel["loc"][:3] for channel in raw.info["chs"]]) @ transform[:3, :3].T
    distance = np.linalg.norm(positions + transform[:3, 3] - HEAD_CENTRE, axis=1)
    assert 0.1 < np.median(distance) < 0.14 and distance.min() > HEAD_RADIUS
    data = raw.get_data()
    mags, grads = np.median(data[np.array(types) == "mag"].std(axis=1)), np.median(
        data[np.array(types) == "grad"].std(axis=1))
    assert 5e-14 < mags < 2e-12  # hundreds of femtotesla
    assert 1e-12 < grads < 5e-11  # tens of femtotesla per centimetre
    truth = read_json(meg_study / "derivatives" / "simulation" / "truth.json")
    assert truth["noise_unit"] == {"mag": 1e-13, "grad": 2e-12}
    assert len(truth["subjects"]["01"]["bad_channels"]) == meg_cfg.noise.bad_channels


def test_radial_dipoles_are_silent_and_blinks_frontal(meg_cfg):
    template = MEG.make_template(meg_cfg)
    centre = np.asarray(HEAD_CENTRE)
    position = centre + np.array([[0.0, -0.06, 0.03]])
    radial = (position - centre) / np.linalg.norm(position - centre)
    tangential = np.array([[1.0, 0.0, 0.0]])
    silent = np.abs(MEG.gains(template, position, radial)).max()
    assert silent < 1e-6 * np.abs(MEG.gains(template, position, tangential)).max()
    head = make_head(template, meg_cfg.seed, 0)
    blinks = np.abs(MEG.blink_topography(template, head))  # (C,)
    y = np.array([channel["loc"][1] for channel in template.info["chs"]])  # front-back
    assert blinks[y > 0.03].mean() > 2 * blinks[y < -0.03].mean()


def test_oracle_works_in_the_evoked_subspace(meg_study, meg_cfg, oracle_score):
    info = read_json(meg_study / "derivatives" / "oracle" / "oracle.json")
    assert info["space"] == "evoked subspace"
    data = np.load(meg_study / "derivatives" / "oracle" / "sub-01_oracle.npz")
    assert data["templates"].shape == (6, meg_cfg.n_sources, 25)
    assert data["trials"].shape == (12, meg_cfg.n_sources, 25)
    np.linalg.cholesky(data["noise_cov"])
    assert oracle_score(dict(data)) >= 0.5  # chance: 1/6


def test_preprocessing_finds_the_bad_sensors(meg_study, tmp_path):
    """Bad sensors are found per channel type (magnetometers apart from gradiometers)."""
    from pipeline.preprocess.options import PreprocessConfig
    from pipeline.preprocess.study import preprocess_study

    steps = [{"fn": "pick", "kwargs": {"types": ["mag", "grad"]}},
             {"fn": "mark_bad_channels", "kwargs": {"z_threshold": 4.0}},
             {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}}]
    summary = preprocess_study(PreprocessConfig(steps=steps), meg_study, tmp_path)
    truth = read_json(meg_study / "derivatives" / "simulation" / "truth.json")
    assert sorted(summary["bad_channels"]["01"]) == sorted(truth["subjects"]["01"]["bad_channels"])
    info = read_json(tmp_path / "info.json")
    assert info["ch_types"].count("grad") == 204
