"""The synthetic KIT writer: MNE (and mne-bids) read back what it wrote."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest
from kit_writer import KIT_DEVICE_TO_HEAD, write_kit_con, write_kit_head_files
from mne_bids import BIDSPath, read_raw_bids, write_raw_bids
from round_trip import MAX_RELATIVE_ERROR, relative_error, sine_in_noise

SFREQ = 250
N_TIMES = 2 * SFREQ
MEG_NAMES = ["MEG 001", "MEG 002", "MEG 003", "MEG 004"]
TRIGGER_NAMES = [f"TRIGGER {i:03d}" for i in range(1, 9)]
EVENTS = [[50, 0, 3], [200, 0, 255], [400, 0, 128]]  # (sample, previous code, code)
N_DIG_POINTS = 3 + 5 + 100  # fiducials, marker coils, head shape


def _codes(events: list[list[int]] = EVENTS, length: int = 10) -> np.ndarray:
    """A trigger code vector holding each event's code for ``length`` samples."""
    stim = np.zeros(N_TIMES, dtype=int)
    for sample, _, code in events:
        stim[sample : sample + length] = code
    return stim


@pytest.fixture(scope="module")
def meg() -> np.ndarray:
    """Four MEG channels in tesla (a few picotesla)."""
    return sine_in_noise(len(MEG_NAMES), N_TIMES, SFREQ, 1e-12)


@pytest.mark.parametrize("reader", [mne.io.read_raw, mne.io.read_raw_kit])
@pytest.mark.parametrize("sample_format", ["int16", "int32"])
def test_kit_reads_back_as_magnetometers(tmp_path, meg, reader, sample_format):
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, _codes(),
                         sample_format=sample_format)
    raw = reader(path, preload=True, verbose=False)
    assert raw._raw_extras[0]["dtype"] == np.dtype(sample_format)
    assert raw.ch_names == [*MEG_NAMES, *TRIGGER_NAMES, "STI 014"]
    assert raw.get_channel_types() == ["mag"] * 4 + ["misc"] * 8 + ["stim"]
    assert raw.info["sfreq"] == SFREQ
    assert raw.n_times == N_TIMES
    assert raw.info["lowpass"] == 100  # the largest KIT low-pass option below Nyquist
    assert relative_error(raw, MEG_NAMES, meg) < MAX_RELATIVE_ERROR


def test_kit_int32_is_finer_than_int16(tmp_path, meg):
    errors = {
        fmt: relative_error(
            mne.io.read_raw_kit(write_kit_con(tmp_path / f"{fmt}.con", MEG_NAMES, SFREQ, meg,
                                              sample_format=fmt), verbose=False),
            MEG_NAMES, meg,
        )
        for fmt in ("int16", "int32")
    }
    assert errors["int32"] < 1e-8 < errors["int16"] < 1e-4


def test_kit_sensors_sit_on_a_10_cm_sphere_pointing_out(tmp_path, meg):
    raw = mne.io.read_raw_kit(write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg),
                              verbose=False)
    locations = np.array([raw.info["chs"][i]["loc"] for i in range(len(MEG_NAMES))])
    np.testing.assert_allclose(np.linalg.norm(locations[:, :3], axis=1), 0.10, atol=1e-9)
    outward = np.einsum("ij,ij->i", locations[:, :3] / 0.10, locations[:, 9:12])
    np.testing.assert_allclose(outward, 1.0, atol=1e-9)
    assert np.all(locations[:, 2] > 0)  # the upper half: the helmet is above the head
    assert raw.info["chs"][0]["coil_type"] == mne.io.constants.FIFF.FIFFV_COIL_KIT_GRAD


@pytest.mark.parametrize(("slope", "idle_volts"), [("+", 0.0), ("-", 2.5)])
def test_kit_trigger_lines_give_the_codes_read_with_their_slope(tmp_path, meg, slope,
                                                                idle_volts):
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, _codes(),
                         trigger_slope=slope)
    raw = mne.io.read_raw_kit(path, slope=slope, preload=True, verbose=False)
    np.testing.assert_array_equal(mne.find_events(raw, verbose=False), EVENTS)
    lines = raw.get_data(picks=TRIGGER_NAMES)
    np.testing.assert_allclose(lines[:, 0], idle_volts)  # code 0: every line idle
    np.testing.assert_allclose(lines[:, 50], [2.5 - idle_volts] * 2 + [idle_volts] * 6)  # 3
    wrong = mne.io.read_raw_kit(path, slope="+" if slope == "-" else "-", verbose=False)
    assert mne.find_events(wrong, verbose=False)[0, 2] != EVENTS[0][2]


def test_kit_active_low_triggers_read_with_mne_defaults(tmp_path, meg):
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, _codes(),
                         trigger_slope="-")
    raw = mne.io.read_raw(path, verbose=False)  # stim='>', slope='-'
    np.testing.assert_array_equal(mne.find_events(raw, verbose=False), EVENTS)


def test_kit_fewer_trigger_channels(tmp_path, meg):
    events = [[50, 0, 9], [300, 0, 15]]
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, _codes(events),
                         n_trigger_channels=4)
    raw = mne.io.read_raw_kit(path, slope="+", verbose=False)
    assert raw.ch_names == [*MEG_NAMES, *TRIGGER_NAMES[:4], "STI 014"]
    np.testing.assert_array_equal(mne.find_events(raw, verbose=False), events)


def test_kit_without_stim_the_trigger_lines_stay_idle(tmp_path, meg):
    raw = mne.io.read_raw_kit(write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg),
                              slope="+", preload=True, verbose=False)
    assert not raw.get_data(picks="STI 014").any()
    assert len(mne.find_events(raw, verbose=False)) == 0


def test_kit_short_names_are_stored_and_default_names_are_not(tmp_path, meg):
    names = ["MEG 001", "LF21", "MEG 1", "MEG 004"]
    path = write_kit_con(tmp_path / "rec.con", names, SFREQ, meg)
    assert mne.io.read_raw_kit(path, verbose=False).ch_names[:4] == names
    standard = mne.io.read_raw_kit(path, standardize_names=True, verbose=False)
    assert standard.ch_names[:4] == MEG_NAMES


@pytest.mark.parametrize(
    ("name", "names", "n_times", "stim", "options"),
    [
        ("rec.sqd", MEG_NAMES, N_TIMES, None, {}),  # not <name>.con
        ("rec.con", MEG_NAMES, N_TIMES, None, {"sample_format": "float32"}),
        ("rec.con", MEG_NAMES, N_TIMES, None, {"trigger_slope": "up"}),
        ("rec.con", MEG_NAMES, N_TIMES, None, {"n_trigger_channels": 9}),  # stim='>' reads 8
        ("rec.con", ["MEG 002", "MEG 001", "MEG 003", "MEG 004"], N_TIMES, None, {}),  # order
        ("rec.con", ["MLC11-2805", *MEG_NAMES[1:]], N_TIMES, None, {}),  # more than 6 bytes
        ("rec.con", ["MEG 001", "Fé", "MEG 003", "MEG 004"], N_TIMES, None, {}),  # not ASCII
        ("rec.con", ["A", "A", "MEG 003", "MEG 004"], N_TIMES, None, {}),  # duplicates
        ("rec.con", MEG_NAMES, N_TIMES, np.zeros(N_TIMES - 1, int), {}),  # stim too short
        ("rec.con", MEG_NAMES, N_TIMES, np.full(N_TIMES, 256), {}),  # needs a 9th bit
        ("rec.con", MEG_NAMES, N_TIMES, np.full(N_TIMES, 16), {"n_trigger_channels": 4}),
        ("rec.con", MEG_NAMES, N_TIMES, np.full(N_TIMES, -1), {}),
        ("rec.con", MEG_NAMES, N_TIMES, np.full(N_TIMES, 1.5), {}),  # not an integer code
        ("rec.con", MEG_NAMES, 0, None, {}),  # no samples
    ],
)
def test_kit_refuses_what_the_file_cannot_hold(tmp_path, name, names, n_times, stim, options):
    with pytest.raises(ValueError):
        write_kit_con(tmp_path / name, names, SFREQ, np.zeros((len(names), n_times)), stim,
                      **options)
    assert not (tmp_path / name).exists()


def test_kit_digitization_in_the_file_gives_the_head_transform(tmp_path, meg):
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, digitization=True)
    raw = mne.io.read_raw_kit(path, verbose=False)
    np.testing.assert_allclose(raw.info["dev_head_t"]["trans"], KIT_DEVICE_TO_HEAD,
                               atol=1e-9)
    assert len(raw.info["dig"]) == N_DIG_POINTS
    bare = mne.io.read_raw_kit(write_kit_con(tmp_path / "bare.con", MEG_NAMES, SFREQ, meg),
                               verbose=False)
    np.testing.assert_array_equal(bare.info["dev_head_t"]["trans"], np.eye(4))
    assert not bare.info["dig"]


def test_kit_head_files_give_the_head_transform(tmp_path, meg):
    path = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg)
    files = write_kit_head_files(tmp_path / "head")
    assert [p.name for p in files.values()] == ["head.mrk", "head.elp", "head.hsp"]
    assert mne.io.kit.read_mrk(files["mrk"]).shape == (5, 3)
    raw = mne.io.read_raw_kit(path, verbose=False, **files)
    np.testing.assert_allclose(raw.info["dev_head_t"]["trans"], KIT_DEVICE_TO_HEAD,
                               atol=1e-9)
    assert len(raw.info["dig"]) == N_DIG_POINTS
    kinds = [point["kind"] for point in raw.info["dig"]]
    assert kinds.count(mne.io.constants.FIFF.FIFFV_POINT_HPI) == 5
    with pytest.raises(ValueError):
        write_kit_head_files(tmp_path / "head", n_head_shape_points=0)


def test_kit_file_goes_through_mne_bids(tmp_path, meg):
    con = write_kit_con(tmp_path / "rec.con", MEG_NAMES, SFREQ, meg, _codes())
    raw = mne.io.read_raw_kit(con, slope="+", verbose=False)
    bids_path = BIDSPath(subject="01", session="0", task="0", root=tmp_path / "bids",
                         datatype="meg")
    # what mne-bids needed: the trigger codes as events= with an event_id naming each code
    # (the raw has no annotations; without events it warns "No events found or provided",
    # and events without event_id is a ValueError)
    with pytest.warns(RuntimeWarning, match="No events found or provided"):
        write_raw_bids(raw, bids_path, overwrite=True, verbose=False)
    with pytest.raises(ValueError, match="no event_id"):
        write_raw_bids(raw, bids_path, events=mne.find_events(raw, verbose=False),
                       overwrite=True, verbose=False)
    event_id = {"three": 3, "all_bits": 255, "top_bit": 128}
    written = write_raw_bids(raw, bids_path, events=mne.find_events(raw, verbose=False),
                             event_id=event_id, overwrite=True, verbose=False)
    assert written.fpath.read_bytes() == con.read_bytes()  # mne-bids copies the .con
    events = pd.read_csv(written.copy().update(suffix="events", extension=".tsv").fpath,
                         sep="\t")
    assert list(events["value"]) == [code for _, _, code in EVENTS]
    np.testing.assert_allclose(events["onset"], [s / SFREQ for s, _, _ in EVENTS])
    channels = pd.read_csv(written.copy().update(suffix="channels", extension=".tsv").fpath,
                           sep="\t")
    assert list(channels["type"][:4]) == ["MEGGRADAXIAL"] * 4
    back = read_raw_bids(written, verbose=False)
    assert back.ch_names[:4] == MEG_NAMES
    assert sorted(back.annotations.description) == sorted(event_id)
    assert relative_error(back, MEG_NAMES, meg) < MAX_RELATIVE_ERROR
