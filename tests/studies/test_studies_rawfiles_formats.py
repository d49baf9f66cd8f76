"""Real-world recording kinds through rawfiles to epochs: CTF directories, CTF converted to FIF,
Neuroscan CNT (reader arguments), BDF/EDF auxiliary channels (channel types, renames), a
reference channel named ``E``. Each file is written by the test itself."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from format_writers import write_ctf_ds, write_neuroscan_cnt

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study

SFREQ = 250.0
SECONDS = 24.0
EEG_NAMES = ["Fp1", "Fz", "Cz", "Pz", "Oz", "C3", "C4", "O1"]
MEG_STEPS = [
    {"fn": "pick", "kwargs": {"types": ["meg"]}},
    {"fn": "filter", "kwargs": {"l_freq": 1.0, "h_freq": 40.0}},
    {"fn": "resample", "kwargs": {"sfreq": 100.0}},
    {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}},
]
ONSETS = np.arange(1.0, SECONDS - 1.0, 2.0)  # (11,) one trial every 2 s


def _signals(n_chans: int, scale: float, seed: int = 0) -> np.ndarray:
    """(n_chans, n_times) white noise of standard deviation ``scale``."""
    n_times = int(SECONDS * SFREQ)
    return scale * np.random.default_rng(seed).standard_normal((n_chans, n_times))


def _preprocess(cfg: PreprocessConfig, root, out, datatype: str):
    out.mkdir()
    preprocess_study(cfg.model_copy(update={"datatype": datatype}), root, out)
    return np.load(out / "epochs.npy", mmap_mode="r"), read_json(out / "info.json")


def _export(path, names: list[str], types: list[str] | None = None) -> mne.io.RawArray:
    """Write EEG-scale noise on ``names`` with a trial 'cue' every 2 s; return the recording."""
    info = mne.create_info(names, SFREQ, types or "eeg")
    raw = mne.io.RawArray(_signals(len(names), 1e-5), info, verbose=False)
    raw.set_annotations(mne.Annotations(ONSETS, 0.0, ["cue"] * len(ONSETS)))
    mne.export.export_raw(path, raw, overwrite=True, verbose=False)
    return raw


@pytest.fixture
def meg_cfg() -> PreprocessConfig:
    return PreprocessConfig.model_validate({"steps": MEG_STEPS})


@pytest.fixture
def ctf_ds(tmp_path):
    names = [f"MLC{index:02d}-4408" for index in range(1, 9)]
    return write_ctf_ds(tmp_path / "rec.ds", names, SFREQ, _signals(len(names), 1e-13),
                        markers={"stim": ONSETS.tolist()})


def test_a_ctf_directory_is_copied_as_bids_meg_and_reaches_epochs(ctf_ds, generate, meg_cfg,
                                                                  tmp_path):
    root = generate("rawfiles", {"files": [str(ctf_ds)]}, tmp_path / "raw")
    copied = list((root / "sub-01" / "meg").glob("*_meg.ds"))
    assert len(copied) == 1 and copied[0].is_dir()
    epochs, info = _preprocess(meg_cfg, root, tmp_path / "out", "meg")
    assert epochs.shape == (len(ONSETS), 8, 61)
    assert set(info["ch_types"]) == {"mag"}
    radii = np.linalg.norm(np.asarray(info["ch_pos"]), axis=1)  # (8,) in head coordinates
    assert np.all((radii > 0.03) & (radii < 0.3))


def test_a_ctf_recording_saved_as_ds_raw_fif_is_converted(ctf_ds, generate, meg_cfg, tmp_path):
    fif = tmp_path / "rec.ds_raw.fif"
    mne.io.read_raw_ctf(ctf_ds, verbose=False).save(fif, verbose=False)
    root = generate("rawfiles", {"files": [str(fif)]}, tmp_path / "raw")
    assert list((root / "sub-01" / "meg").glob("*_meg.fif"))
    epochs, _ = _preprocess(meg_cfg, root, tmp_path / "out", "meg")
    assert epochs.shape == (len(ONSETS), 8, 61)


@pytest.fixture
def neuroscan_32bit(tmp_path):
    """A 32-bit CNT whose header gives no sample count: MNE needs data_format to read it."""
    events = [(int(onset * SFREQ), 1) for onset in ONSETS]
    return write_neuroscan_cnt(tmp_path / "rec.cnt", EEG_NAMES, SFREQ, _signals(8, 1e-5),
                               events, data_format="int32", header_n_samples=0)


def test_a_32_bit_neuroscan_file_names_the_reader_argument_to_set(neuroscan_32bit, generate,
                                                                  tmp_path):
    with pytest.raises(DataError) as error:
        generate("rawfiles", {"files": [str(neuroscan_32bit)]}, tmp_path / "raw")
    message = str(error.value)
    assert message.startswith(f"{neuroscan_32bit}: cannot read the recording")
    assert "reader_kwargs {data_format: int32} (study.options.rawfiles" in message
    assert "\n" not in message and not (tmp_path / "raw").exists()


def test_reader_kwargs_read_a_32_bit_neuroscan_file_to_epochs(neuroscan_32bit, generate,
                                                              shipped_cfg, tmp_path):
    options = {"files": [{"path": str(neuroscan_32bit), "reader_kwargs": {"data_format":
                                                                          "int32"}}],
               "events": {"1": "cue"}}  # CNT events are annotations named by their code
    root = generate("rawfiles", options, tmp_path / "raw")
    assert list((root / "sub-01" / "eeg").glob("*_eeg.vhdr"))  # converted: BIDS has no .cnt
    epochs, info = _preprocess(shipped_cfg, root, tmp_path / "out", "eeg")
    assert epochs.shape == (len(ONSETS), 8, 71)
    assert info["ch_names"] == EEG_NAMES


def test_a_reader_argument_mne_does_not_take_is_a_params_error(tmp_path, generate):
    path = tmp_path / "rec.edf"
    _export(path, EEG_NAMES)
    with pytest.raises(ParamsError, match=r"rec\.edf: reader_kwargs \['colour'\]: MNE's reader"):
        generate("rawfiles", {"files": [str(path)], "reader_kwargs": {"colour": 1}},
                 tmp_path / "raw")


@pytest.fixture
def biosemi(tmp_path):
    """A BDF whose auxiliary channels (EXG, EMG, ECG, accelerometer) all read as EEG."""
    auxiliary = ["EXG1", "EXG2", "EMG", "ECG", "AccX", "AccY"]
    path = tmp_path / "rec.bdf"
    _export(path, [*EEG_NAMES, *auxiliary])
    assert set(mne.io.read_raw(path, verbose=False).get_channel_types()) == {"eeg"}
    return path


def test_auxiliary_bdf_channels_stop_at_the_montage_naming_the_params(biosemi, generate,
                                                                      shipped_cfg, tmp_path):
    root = generate("rawfiles", {"files": [str(biosemi)]}, tmp_path / "raw")
    with pytest.raises(DataError) as error:
        _preprocess(shipped_cfg, root, tmp_path / "out", "eeg")
    message = str(error.value)
    assert "channels EXG1, EXG2, EMG, ECG, AccX, AccY not in montage standard_1020" in message
    assert "channel_types" in message and "\n" not in message


def test_channel_types_with_wildcards_let_pick_drop_auxiliary_channels(biosemi, generate,
                                                                       shipped_cfg, tmp_path):
    types = {"EXG*": "eog", "EMG": "emg", "ECG": "ecg", "Acc?": "misc"}
    root = generate("rawfiles", {"files": [str(biosemi)], "channel_types": types},
                    tmp_path / "raw")
    channels = (root / "sub-01" / "eeg" / "sub-01_task-rawfiles_channels.tsv").read_text()
    assert "EXG1\tEOG" in channels and "AccY\tMISC" in channels
    epochs, info = _preprocess(shipped_cfg, root, tmp_path / "out", "eeg")
    assert info["ch_names"] == EEG_NAMES
    assert epochs.shape == (len(ONSETS), 8, 71)


def test_a_reference_channel_named_e_is_retyped_per_file(tmp_path, generate, shipped_cfg):
    path = tmp_path / "nk.edf"
    _export(path, [*EEG_NAMES, "E"])
    root = generate("rawfiles", {"files": [str(path)]}, tmp_path / "raw")
    with pytest.raises(DataError, match=r"channels E not in montage standard_1020"):
        _preprocess(shipped_cfg, root, tmp_path / "out", "eeg")
    options = {"files": [{"path": str(path), "channel_types": {"E": "misc"}}]}
    root = generate("rawfiles", options, tmp_path / "retyped")
    _, info = _preprocess(shipped_cfg, root, tmp_path / "out2", "eeg")
    assert "E" not in info["ch_names"] and len(info["ch_names"]) == len(EEG_NAMES)


def test_rename_channels_turn_reader_labels_into_montage_names(tmp_path, generate, shipped_cfg):
    path = tmp_path / "clinical.edf"
    _export(path, [f"EEG {name}-REF" for name in EEG_NAMES])
    options = {"files": [str(path)], "rename_channels": {"EEG *-REF": "*"}}
    root = generate("rawfiles", options, tmp_path / "raw")
    assert list((root / "sub-01" / "eeg").glob("*_eeg.vhdr"))  # renamed: converted, not copied
    _, info = _preprocess(shipped_cfg, root, tmp_path / "out", "eeg")
    assert info["ch_names"] == EEG_NAMES


def test_study_rules_that_match_no_file_are_named(tmp_path, generate):
    path = tmp_path / "rec.edf"
    _export(path, EEG_NAMES)
    with pytest.raises(DataError, match=r"rawfiles\.channel_types key\(s\) EXG\* match no "
                                        r"channel or channel type of any file"):
        generate("rawfiles", {"files": [str(path)], "channel_types": {"EXG*": "eog"}},
                 tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_a_bids_dataset_with_ctf_directories_is_mirrored_by_task(ctf_ds, generate, meg_cfg,
                                                                 tmp_path):
    files = [{"path": str(ctf_ds), "task": "listen"}, {"path": str(ctf_ds), "task": "rest"}]
    dataset = generate("rawfiles", {"files": files}, tmp_path / "dataset")
    root = generate("bids", {"root": str(dataset), "tasks": ["listen"]}, tmp_path / "raw")
    mirrored = sorted(path.name for path in (root / "sub-01" / "meg").iterdir())
    assert [name for name in mirrored if name.endswith(".ds")] == ["sub-01_task-listen_meg.ds"]
    epochs, _ = _preprocess(meg_cfg, root, tmp_path / "out", "meg")
    assert epochs.shape == (len(ONSETS), 8, 61)
