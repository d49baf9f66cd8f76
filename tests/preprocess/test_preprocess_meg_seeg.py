"""MEG and sEEG through the same MNE preprocessing: datatypes, positions, bads, bipolar."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from sensor_fixtures import SEEG_LAYOUT, build_meg, build_seeg, write_sensor_bids

from pipeline.errors import DataError
from pipeline.io import read_json
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.recordings import find_recordings
from pipeline.preprocess.step import STEPS
from pipeline.preprocess.steps_raw import bipolar_pairs
from pipeline.preprocess.study import PIPELINES, preprocess_study
from pipeline.simulate.meg import DEVICE_TO_HEAD, helmet_locations
from pipeline.simulate.seeg import make_shafts

TAIL = [
    {"fn": "filter", "kwargs": {"l_freq": 0.5, "h_freq": 40.0}},
    {"fn": "resample", "kwargs": {"sfreq": 100.0}},
    {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}},
    {"fn": "baseline", "kwargs": {"tmin": -0.1, "tmax": 0.0}},
    {"fn": "robust_scale"},
]
MEG_STEPS = [{"fn": "pick", "kwargs": {"types": ["mag", "grad"]}},
             {"fn": "mark_bad_channels", "kwargs": {"z_threshold": 4.0}}, *TAIL]
SEEG_STEPS = [{"fn": "pick", "kwargs": {"types": ["seeg"]}},
              {"fn": "mark_bad_channels", "kwargs": {"z_threshold": 5.0}},
              {"fn": "interpolate_bads"}, {"fn": "bipolar"}, *TAIL]
N_TRIALS = 18  # one per second from 1 s to 18 s of a 20 s recording


@pytest.fixture(scope="module")
def meg_root(tmp_path_factory):
    return write_sensor_bids(tmp_path_factory.mktemp("meg"), {"01": build_meg(seed=1)})


@pytest.fixture(scope="module")
def seeg_root(tmp_path_factory):
    return write_sensor_bids(tmp_path_factory.mktemp("seeg"),
                             {"01": build_seeg(seed=2), "02": build_seeg(seed=3, noisy="RA1")})


def _run(steps: list[dict], root, tmp_path) -> tuple[dict, dict, np.ndarray]:
    out = tmp_path / "out"
    out.mkdir()
    summary = preprocess_study(PreprocessConfig(steps=steps), root, out)
    return summary, read_json(out / "info.json"), np.load(out / "epochs.npy", mmap_mode="r")


def test_meg_and_ieeg_share_the_sensor_pipeline():
    assert PIPELINES.get("meg") is PIPELINES.get("ieeg") is PIPELINES.get("eeg")


def test_find_recordings_searches_the_datatype(meg_root, seeg_root):
    assert [path.fpath.name for path in find_recordings(meg_root, "meg")] == [
        "sub-01_task-images_meg.fif"]
    assert [path.fpath.name for path in find_recordings(seeg_root, "ieeg")] == [
        "sub-01_task-images_ieeg.vhdr", "sub-02_task-images_ieeg.vhdr"]
    with pytest.raises(DataError, match=r"no eeg recording found \(expected sub-\*/eeg/\*_eeg"):
        find_recordings(meg_root, "eeg")


def test_meg_contract_with_head_positions_and_bads_per_type(meg_root, tmp_path):
    summary, info, epochs = _run(MEG_STEPS, meg_root, tmp_path)
    assert epochs.shape == (N_TRIALS, 306, 61) and epochs.dtype == np.float32
    assert info["ch_types"].count("mag") == 102 and info["ch_types"].count("grad") == 204
    assert info["ch_names"][:3] == ["MEG0011", "MEG0012", "MEG0013"]
    # mags (~1e-13 T) and grads (~2e-12 T/m) are judged apart: only the faulty two are bad
    assert sorted(summary["bad_channels"]["01"]) == ["MEG0101", "MEG0202"]
    positions = np.array(info["ch_pos"])  # (306, 3) head coordinates
    expected = np.repeat(helmet_locations()[0], 3, axis=0) + DEVICE_TO_HEAD
    np.testing.assert_allclose(positions, expected, atol=1e-6)


def test_seeg_bipolar_contract(seeg_root, tmp_path):
    summary, info, epochs = _run(SEEG_STEPS, seeg_root, tmp_path)
    n_pairs = SEEG_LAYOUT.n_shafts * (SEEG_LAYOUT.contacts_per_shaft - 1)
    assert epochs.shape == (2 * N_TRIALS, n_pairs, 61)
    assert info["ch_names"][:3] == ["LA1-LA2", "LA2-LA3", "LA3-LA4"]
    assert info["ch_types"] == ["seeg"] * n_pairs
    names, contacts = make_shafts(SEEG_LAYOUT, seed=0)
    midpoint = (contacts[names.index("RB2")] + contacts[names.index("RB3")]) / 2
    np.testing.assert_allclose(info["ch_pos"][info["ch_names"].index("RB2-RB3")], midpoint,
                               atol=1e-6)
    assert summary["bad_channels"] == {"01": ["LB3"], "02": ["RA1"]}


def test_bipolar_pairs_follow_the_shafts():
    names = ["LA1", "LA2", "LA3", "LA5", "RA1", "RA2", "B'1", "B'2"]
    assert bipolar_pairs(names, "x.vhdr") == [("LA1", "LA2"), ("LA2", "LA3"), ("RA1", "RA2"),
                                               ("B'1", "B'2")]
    with pytest.raises(DataError) as info:
        bipolar_pairs(["LA1", "LA2", "REF", "GND"], "sub-01_ieeg.vhdr")
    assert str(info.value) == (
        "sub-01_ieeg.vhdr: channels REF, GND do not end with a contact number; the bipolar "
        "step expects <shaft><number> names such as LA1, LA2 (pick the depth channels first)")
    with pytest.raises(DataError, match="no two adjacent contacts"):
        bipolar_pairs(["LA1", "LA3", "RA2"], "x.vhdr")


def test_bipolar_step_marks_bads_drops_lone_contacts_and_keeps_other_types(context):
    info = mne.create_info(["LA1", "LA2", "LA3", "RB7", "ECG"], 100.0,
                           ["seeg", "seeg", "seeg", "seeg", "ecg"])
    data = np.random.default_rng(0).standard_normal((5, 500)) * 1e-5
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.info["bads"] = ["LA3"]
    out = STEPS.get("bipolar")(raw, context(raw))
    assert out.ch_names == ["ECG", "LA1-LA2", "LA2-LA3"]
    assert out.info["bads"] == ["LA2-LA3"]
    np.testing.assert_allclose(out.get_data(picks="LA1-LA2")[0], data[0] - data[1])
    assert raw.ch_names[0] == "LA1"  # the input is untouched
    with pytest.raises(DataError, match="no channel of type seeg to re-reference"):
        STEPS.get("bipolar")(raw.copy().pick(["ECG"]), context(raw))


def test_pick_names_the_types_a_recording_has(context, make_raw):
    raw = make_raw(seed=0, duration=5.0)
    with pytest.raises(DataError, match=r"no channel of type mag, grad; the recording has eeg"):
        STEPS.get("pick")(raw, context(raw), types=["mag", "grad"])


def test_meg_recommended_steps_interpolate_bads(meg_root, tmp_path):
    """The MEG steps of eeg_meg's docstring, field-mapping interpolation included (~2 s)."""
    steps = [*MEG_STEPS[:2], {"fn": "interpolate_bads", "kwargs": {"mode": "fast"}}, *TAIL]
    summary, info, epochs = _run(steps, meg_root, tmp_path)
    flat = info["ch_names"].index("MEG0202")
    assert sorted(summary["bad_channels"]["01"]) == ["MEG0101", "MEG0202"]
    assert np.std(epochs[:, flat]) > 0.1  # interpolated, no longer flat
