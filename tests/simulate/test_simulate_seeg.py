"""The simulated sEEG: shafts, volume sources, infinite-medium gains, BIDS iEEG, oracle."""

from __future__ import annotations

import numpy as np
import pytest
from mne_bids import BIDSPath, read_raw_bids

from pipeline.io import read_json
from pipeline.simulate.forward import SHELL
from pipeline.simulate.modalities import simulate_study
from pipeline.simulate.options import SeegConfig, SimulateConfig
from pipeline.simulate.seeg import (
    BRAIN_CENTRE,
    BRAIN_RADIUS,
    CONDUCTIVITY,
    SEEG,
    SOURCE_RADIUS,
    dipole_potential,
    make_shafts,
)


@pytest.fixture(scope="module")
def seeg_cfg(make_config):
    return make_config(modality="seeg", n_subjects=1, snr=0.25,
                       stimuli={"train": 4, "val": 2, "test": 6},
                       seeg={"n_shafts": 6, "contacts_per_shaft": 8},
                       oracle={"n_noise_epochs": 200})


@pytest.fixture(scope="module")
def seeg_study(tmp_path_factory, seeg_cfg):
    root = tmp_path_factory.mktemp("seeg") / "raw"
    simulate_study(seeg_cfg, root)
    return root


def test_options_are_validated():
    assert SimulateConfig().seeg == SeegConfig(n_shafts=8, contacts_per_shaft=10, spacing_mm=3.5)
    with pytest.raises(ValueError, match="shafts 85 mm long; expected at most 60 mm"):
        SeegConfig(contacts_per_shaft=18, spacing_mm=5.0)
    with pytest.raises(ValueError, match="n_shafts"):
        SimulateConfig.model_validate({"modality": "seeg", "seeg": {"n_shafts": 0}})


def test_shafts_are_named_and_spaced_inside_the_brain():
    names, positions = make_shafts(SeegConfig(n_shafts=4, contacts_per_shaft=10), seed=3)
    assert names[:10] == [f"LA{number}" for number in range(1, 11)]
    assert names[10] == "RA1" and names[20:22] == ["LB1", "LB2"] and len(names) == 40
    shafts = positions.reshape(4, 10, 3)
    steps = np.linalg.norm(np.diff(shafts, axis=1), axis=2)
    np.testing.assert_allclose(steps, 0.0035)
    radius = np.linalg.norm(positions - BRAIN_CENTRE, axis=1)
    assert radius.max() < BRAIN_RADIUS and np.all(radius[9::10] > radius[::10])  # 1 deepest
    assert np.all(shafts[0::2, :, 0] < 0) and np.all(shafts[1::2, -1, 0] > 0)  # left, right


def test_dipole_potential_is_the_infinite_medium_one():
    contacts = np.array([[0.0, 0.0, 0.02], [0.0, 0.0, 0.04], [0.02, 0.0, 0.0]])
    gain = dipole_potential(contacts, np.zeros((1, 3)), np.array([[0.0, 0.0, 1.0]]))[:, 0]
    far = 1.0 / (4 * np.pi * CONDUCTIVITY * 0.04**2)
    np.testing.assert_allclose(gain[1], far, rtol=2 * (SOURCE_RADIUS / 0.04) ** 2)
    assert 3.5 < gain[0] / gain[1] < 4.0  # 1/r^2 along the dipole, smoothed near it
    assert abs(gain[2]) < 1e-12  # nothing at right angles


def test_bids_ieeg_reads_back_with_positions(seeg_study, seeg_cfg):
    folder = seeg_study / "sub-01" / "ieeg"
    for name in ("task-images_ieeg.vhdr", "space-ACPC_electrodes.tsv",
                 "space-ACPC_coordsystem.json", "task-images_channels.tsv"):
        assert (folder / f"sub-01_{name}").is_file(), name
    raw = read_raw_bids(BIDSPath(subject="01", task="images", datatype="ieeg",
                                 root=seeg_study), verbose=False)
    names, positions = make_shafts(seeg_cfg.seeg, seeg_cfg.seed)
    assert raw.ch_names == names and set(raw.get_channel_types()) == {"seeg"}
    read = np.array([channel["loc"][:3] for channel in raw.info["chs"]])
    np.testing.assert_allclose(read, positions, atol=1e-6)
    assert len(raw.annotations) == 4 + 2 + 6 * 2
    assert 1e-5 < np.median(raw.get_data().std(axis=1)) < 5e-4  # tens of microvolts


def test_contacts_see_local_activity(seeg_cfg):
    template = SEEG.make_template(seeg_cfg)
    evoked = template.positions["evoked"]
    assert np.linalg.norm(evoked - BRAIN_CENTRE, axis=1).min() < SHELL[0]  # not only the shell
    contacts = np.array([channel["loc"][:3] for channel in template.info["chs"]])
    gains = np.abs(SEEG.gains(template, evoked, template.orientations["evoked"]))  # (C, S)
    distance = np.linalg.norm(contacts[:, None] - evoked[None], axis=2)  # (C, S)
    slope = np.polyfit(np.log(distance.ravel()), np.log(gains.ravel()), 1)[0]
    assert -3.0 < slope < -1.5  # a dipole's potential falls as 1 / distance^2


def test_oracle_beats_chance(seeg_study, oracle_score):
    assert read_json(seeg_study / "derivatives" / "oracle" / "oracle.json")["space"] == "sensors"
    data = np.load(seeg_study / "derivatives" / "oracle" / "sub-01_oracle.npz")
    assert data["templates"].shape == (6, 48, 25)
    assert oracle_score(dict(data)) >= 0.5  # chance: 1/6


def test_preprocessing_finds_the_bad_contacts(seeg_study, tmp_path):
    """The recommended sEEG steps (eeg_meg's docstring) find the simulated bad contacts."""
    from pipeline.preprocess.options import PreprocessConfig
    from pipeline.preprocess.study import preprocess_study

    steps = [{"fn": "pick", "kwargs": {"types": ["seeg"]}},
             {"fn": "mark_bad_channels", "kwargs": {"z_threshold": 5.0}},
             {"fn": "interpolate_bads"}, {"fn": "bipolar"},
             {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}}]
    summary = preprocess_study(PreprocessConfig(steps=steps), seeg_study, tmp_path)
    truth = read_json(seeg_study / "derivatives" / "simulation" / "truth.json")
    assert sorted(summary["bad_channels"]["01"]) == sorted(truth["subjects"]["01"]["bad_channels"])
    assert read_json(tmp_path / "info.json")["ch_names"][0] == "LA1-LA2"
