"""The synthetic CTF and Neuroscan writers: MNE reads back what they wrote."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from format_writers import write_ctf_ds, write_neuroscan_cnt
from round_trip import MAX_RELATIVE_ERROR, relative_error, sine_in_noise

SFREQ = 250
N_TIMES = 4 * SFREQ
MEG_NAMES = ["MLC11-2805", "MLF21-2805", "MRC11-2805", "MZO01-2805"]
EEG_NAMES = ["Fz", "Cz", "Pz", "Oz"]


@pytest.fixture(scope="module")
def meg() -> np.ndarray:
    """Four MEG channels in tesla (a few picotesla)."""
    return sine_in_noise(len(MEG_NAMES), N_TIMES, SFREQ, 1e-12)


@pytest.fixture(scope="module")
def eeg() -> np.ndarray:
    """Four EEG channels in volts (tens of microvolts)."""
    return sine_in_noise(len(EEG_NAMES), N_TIMES, SFREQ, 2e-5)


# --------------------------------------------------------------------------------------------
# CTF
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", [mne.io.read_raw, mne.io.read_raw_ctf])
def test_ctf_dataset_reads_back_as_magnetometers(tmp_path, meg, reader):
    path = write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg)
    raw = reader(path, preload=True, verbose=False)
    assert raw.ch_names == MEG_NAMES
    assert raw.get_channel_types() == ["mag"] * len(MEG_NAMES)
    assert raw.info["sfreq"] == SFREQ
    assert raw.n_times == N_TIMES
    assert relative_error(raw, MEG_NAMES, meg) < MAX_RELATIVE_ERROR


def test_ctf_markers_become_annotations_across_trials(tmp_path, meg):
    markers = {"stimulus": [0.5, 1.25, 3.5], "response": [2.004]}
    path = write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg, markers,
                        samples_per_trial=SFREQ)
    raw = mne.io.read_raw_ctf(path, preload=True, verbose=False)
    order = np.argsort(raw.annotations.onset)
    assert list(raw.annotations.description[order]) == [
        "stimulus", "stimulus", "response", "stimulus"
    ]
    np.testing.assert_allclose(raw.annotations.onset[order], [0.5, 1.25, 2.004, 3.5],
                               atol=1e-9)
    assert np.all(raw.annotations.duration == 0)
    assert relative_error(raw, MEG_NAMES, meg) < MAX_RELATIVE_ERROR  # trials stitched back


def test_ctf_without_markers_has_no_annotations(tmp_path, meg):
    path = write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg, markers={})
    assert not (path / "MarkerFile.mrk").exists()
    assert len(mne.io.read_raw_ctf(path, verbose=False).annotations) == 0


def test_ctf_refuses_a_marker_outside_the_recording(tmp_path, meg):
    with pytest.raises(ValueError, match="outside"):
        write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg, {"late": [N_TIMES / SFREQ]})


def test_ctf_stim_channel_gives_events(tmp_path, meg):
    stim = np.zeros(N_TIMES, dtype=int)
    stim[100:110], stim[600:610] = 3, 5
    path = write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg, stim=stim)
    raw = mne.io.read_raw(path, preload=True, verbose=False)
    assert raw.ch_names == [*MEG_NAMES, "UPPT001"]
    assert raw.get_channel_types()[-1] == "stim"
    events = mne.find_events(raw, stim_channel="UPPT001", verbose=False)
    np.testing.assert_array_equal(events, [[100, 0, 3], [600, 0, 5]])


def test_ctf_sensors_sit_on_a_10_cm_sphere_pointing_out(tmp_path, meg):
    raw = mne.io.read_raw_ctf(write_ctf_ds(tmp_path / "rec.ds", MEG_NAMES, SFREQ, meg),
                              verbose=False)
    # MNE moves the CTF device origin to (0, 0, 19 cm) of its own device frame
    centre = np.array([0.0, 0.0, 0.19])
    locations = np.array([channel["loc"] for channel in raw.info["chs"]])
    radial = locations[:, :3] - centre
    np.testing.assert_allclose(np.linalg.norm(radial, axis=1), 0.10, atol=1e-9)
    outward = np.einsum("ij,ij->i", radial / 0.10, locations[:, 9:12])
    np.testing.assert_allclose(outward, 1.0, atol=1e-9)


def test_ctf_head_coils_give_a_device_to_head_transform(tmp_path, meg):
    with_coils = mne.io.read_raw_ctf(
        write_ctf_ds(tmp_path / "coils.ds", MEG_NAMES, SFREQ, meg), verbose=False
    )
    transform = with_coils.info["dev_head_t"]["trans"]
    assert not np.allclose(transform, np.eye(4))
    np.testing.assert_allclose(transform[:3, :3] @ transform[:3, :3].T, np.eye(3), atol=1e-9)
    assert len(with_coils.info["dig"]) == 3  # nasion, LPA, RPA
    without = mne.io.read_raw_ctf(
        write_ctf_ds(tmp_path / "bare.ds", MEG_NAMES, SFREQ, meg, head_coils=False),
        verbose=False,
    )
    assert without.info["dev_head_t"] is None


@pytest.mark.parametrize(
    ("directory", "names", "n_times", "trial"),
    [
        ("rec", MEG_NAMES, N_TIMES, None),  # not <name>.ds
        ("rec.ds", ["MLC11-2805-and-more"], N_TIMES, None),  # MNE would cut it to 15
        ("rec.ds", MEG_NAMES, N_TIMES, 300),  # 1000 samples are no whole number of trials
    ],
)
def test_ctf_refuses_what_mne_would_not_read_back(tmp_path, directory, names, n_times, trial):
    with pytest.raises(ValueError):
        write_ctf_ds(tmp_path / directory, names, SFREQ, np.zeros((len(names), n_times)),
                     samples_per_trial=trial)


# --------------------------------------------------------------------------------------------
# Neuroscan CNT
# --------------------------------------------------------------------------------------------

EVENTS = [(0, 1), (125, 7), (600, 255), (N_TIMES - 1, 2)]


def _check_cnt(raw: mne.io.BaseRaw, expected: np.ndarray) -> None:
    assert raw.ch_names == EEG_NAMES
    assert raw.get_channel_types() == ["eeg"] * len(EEG_NAMES)
    assert raw.info["sfreq"] == SFREQ
    assert raw.n_times == N_TIMES
    assert relative_error(raw, EEG_NAMES, expected) < MAX_RELATIVE_ERROR
    np.testing.assert_allclose(raw.annotations.onset, [s / SFREQ for s, _ in EVENTS])
    assert list(raw.annotations.description) == [str(code) for _, code in EVENTS]


@pytest.mark.parametrize("data_format", ["int16", "int32"])
@pytest.mark.parametrize("pass_format", [True, False])
def test_cnt_reads_back_with_and_without_data_format(tmp_path, eeg, data_format, pass_format):
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, eeg, EVENTS,
                               data_format=data_format)
    assert path.stat().st_size == (900 + 75 * 4 + eeg.size * int(data_format[3:]) // 8
                                   + 9 + 19 * len(EVENTS))
    options = {"data_format": data_format} if pass_format else {}
    _check_cnt(mne.io.read_raw_cnt(path, preload=True, verbose=False, **options), eeg)


def test_cnt_generic_reader_reads_a_consistent_32_bit_file(tmp_path, eeg):
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, eeg, EVENTS)
    _check_cnt(mne.io.read_raw(path, preload=True, verbose=False), eeg)


def test_cnt_zero_sample_count_needs_data_format(tmp_path, eeg):
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, eeg, EVENTS,
                               header_n_samples=0)
    with pytest.raises(RuntimeError, match=r"number of samples \(according to header\) is 0"):
        mne.io.read_raw_cnt(path, verbose=False)
    with pytest.raises(RuntimeError, match="Could not read file using any of the possible"):
        mne.io.read_raw(path, verbose=False)
    _check_cnt(mne.io.read_raw_cnt(path, data_format="int32", preload=True, verbose=False), eeg)
    _check_cnt(mne.io.read_raw(path, data_format="int32", preload=True, verbose=False), eeg)


def test_cnt_negative_sample_count_needs_data_format(tmp_path, eeg):
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, eeg, EVENTS,
                               header_n_samples=-732)
    with pytest.raises(RuntimeError, match=r"n_samples=-732 or does not result in 2 or 4"):
        mne.io.read_raw_cnt(path, verbose=False)
    _check_cnt(mne.io.read_raw_cnt(path, data_format="int32", preload=True, verbose=False), eeg)


def test_cnt_doubled_sample_count_is_misread_as_16_bit(tmp_path, eeg):
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, eeg, EVENTS,
                               header_n_samples=2 * N_TIMES)
    misread = mne.io.read_raw_cnt(path, preload=True, verbose=False)
    assert misread.n_times == 2 * N_TIMES
    assert relative_error(misread.copy().crop(tmax=(N_TIMES - 1) / SFREQ), EEG_NAMES,
                           eeg) > 0.1
    recomputed = mne.io.read_raw_cnt(path, data_format="int32", recompute_n_samples=True,
                                     preload=True, verbose=False)
    _check_cnt(recomputed, eeg)


def test_cnt_long_names_are_marked_bad_by_the_default_header_mode(tmp_path, eeg):
    names = ["Fz", "Cz", "VEOGL", "HEOGR"]
    path = write_neuroscan_cnt(tmp_path / "rec.cnt", names, SFREQ, eeg)
    assert mne.io.read_raw_cnt(path, verbose=False).info["bads"] == ["VEOGL", "HEOGR"]
    assert mne.io.read_raw_cnt(path, header="new", verbose=False).info["bads"] == []


@pytest.mark.parametrize(
    ("names", "sfreq", "events", "data_format"),
    [
        (EEG_NAMES, 250.5, (), "int32"),  # the header stores a whole rate
        (["Fz", "Cz", "Pz", "a-very-long"], SFREQ, (), "int32"),  # more than 10 characters
        (EEG_NAMES, SFREQ, [(N_TIMES, 1)], "int32"),  # event past the last sample
        (EEG_NAMES, SFREQ, [(10, 0)], "int32"),  # code 0
        (EEG_NAMES, SFREQ, (), "float32"),
    ],
)
def test_cnt_refuses_what_the_header_cannot_hold(tmp_path, eeg, names, sfreq, events,
                                                 data_format):
    with pytest.raises(ValueError):
        write_neuroscan_cnt(tmp_path / "rec.cnt", names, sfreq, eeg, events,
                            data_format=data_format)
