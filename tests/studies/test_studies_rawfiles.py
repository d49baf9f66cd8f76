"""The rawfiles study: each file of ../shared/data/formats in, a BIDS root out, read back."""

from __future__ import annotations

import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest

from pipeline.io import read_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import PIPELINES, preprocess_study

ECOG = "sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.lay"
HEADERS = (".vhdr", ".edf", ".set", ".fif")


def _read_back(root, datatype, **entities) -> mne.io.BaseRaw:
    path = mne_bids.BIDSPath(root=root, subject="01", task="rawfiles", datatype=datatype,
                             suffix=datatype, **entities)
    matches = [match for match in path.match() if match.extension in HEADERS]
    assert len(matches) == 1, [match.basename for match in matches]
    return mne_bids.read_raw_bids(matches[0], verbose=False).load_data(verbose=False)


def _counts(raw: mne.io.BaseRaw) -> dict[str, int]:
    return pd.Series(raw.annotations.description).value_counts().to_dict()


def _stimuli(root) -> list[str]:
    return read_tsv(root / "stimuli" / "stimuli.tsv")["stimulus_id"].tolist()


def _preprocess(cfg: PreprocessConfig, root, tmp_path, datatype: str):
    if datatype not in PIPELINES:
        pytest.skip(f"no {datatype!r} preprocessing pipeline is registered yet")
    out = tmp_path / "preprocessed"
    out.mkdir()
    summary = preprocess_study(cfg.model_copy(update={"datatype": datatype}), root, out)
    return summary, np.load(out / "epochs.npy", mmap_mode="r"), read_tsv(out / "trials.tsv")


@pytest.fixture(scope="module")
def brainvision(formats, generate, tmp_path_factory):
    events = {"Stimulus/S253": "s253", "Stimulus/S255": "s255"}
    return generate("rawfiles", {"files": [str(formats / "test.vhdr")], "events": events},
                    tmp_path_factory.mktemp("vhdr"))


def test_brainvision_is_copied_with_trials_renamed(brainvision, formats):
    raw = _read_back(brainvision, "eeg")
    original = mne.io.read_raw_brainvision(formats / "test.vhdr", verbose=False)
    assert (brainvision / "sub-01" / "eeg" / "sub-01_task-rawfiles_eeg.eeg").is_file()
    assert np.array_equal(raw.get_data(), original.get_data())
    assert _counts(raw)["s253"] == 2 and _counts(raw)["s255"] == 5
    assert "Stimulus/S253" not in _counts(raw)  # renamed, other markers kept as they were
    renamed = original.annotations.description == "Stimulus/S253"
    trials = raw.annotations.description == "s253"
    assert raw.annotations.onset[trials] == pytest.approx(original.annotations.onset[renamed])
    assert _stimuli(brainvision) == ["s253", "s255"]


def test_brainvision_goes_through_preprocess(brainvision, shipped_cfg, tmp_path):
    summary, epochs, trials = _preprocess(shipped_cfg, brainvision, tmp_path, "eeg")
    assert epochs.shape == (7, 26, 71)  # 26 EEG channels (6 misc dropped), 100 Hz, -0.1..0.6
    assert np.all(np.isfinite(epochs))
    assert trials["stimulus_id"].value_counts().to_dict() == {"s255": 5, "s253": 2}
    assert summary["n_recordings"] == 1


def test_edf_is_copied_with_its_annotations_renamed(formats, generate, tmp_path):
    root = generate("rawfiles", {"files": [{"path": str(formats / "test.edf"), "subject": "01"}],
                                 "events": {"type A": "a", "type B": "b"}}, tmp_path / "raw")
    raw = _read_back(root, "eeg")
    original = mne.io.read_raw_edf(formats / "test.edf", verbose=False)
    assert (root / "sub-01" / "eeg" / "sub-01_task-rawfiles_eeg.edf").is_file()
    assert np.array_equal(raw.get_data(), original.get_data())
    assert raw.get_channel_types().count("stim") == 1
    assert {key: _counts(raw)[key] for key in ("a", "b")} == {"a": 3, "b": 1}
    assert _stimuli(root) == ["a", "b"]


def test_eeglab_set_and_fdt_are_copied(formats, generate, tmp_path):
    root = generate("rawfiles", {"files": [str(formats / "test_raw.set")],
                                 "events": {"square": "square"}}, tmp_path / "raw")
    assert (root / "sub-01" / "eeg" / "sub-01_task-rawfiles_eeg.fdt").is_file()
    raw = _read_back(root, "eeg")
    original = mne.io.read_raw_eeglab(formats / "test_raw.set", verbose=False)
    assert raw.info["nchan"] == 32 and raw.info["sfreq"] == 128.0
    assert np.array_equal(raw.get_data(), original.get_data())
    assert _counts(raw) == {"square": 80, "rt": 74}  # 'rt' responses are kept, not trials
    assert _stimuli(root) == ["square"]


@pytest.mark.filterwarnings("ignore:.*(coordinate|without locations).*:RuntimeWarning")
def test_persyst_ecog_is_converted_to_ieeg(formats, generate, tmp_path):
    options = {"files": [{"path": str(formats / ECOG), "channel_types": {"eeg": "ecog"}}],
               "events": {"seizure": "seizure"}}
    root = generate("rawfiles", options, tmp_path / "raw")
    raw = _read_back(root, "ieeg")
    original = mne.io.read_raw_persyst(formats / ECOG, verbose=False)
    assert raw.filenames[0].suffix == ".eeg"  # BIDS iEEG does not take .lay: BrainVision
    assert set(raw.get_channel_types()) == {"ecog"} and raw.info["nchan"] == 83
    assert raw.n_times == original.n_times
    scale = np.abs(original.get_data()).max()
    assert np.abs(raw.get_data() - original.get_data()).max() < 1e-3 * scale
    assert _counts(raw)["seizure"] == 2


@pytest.fixture(scope="module")
def elekta(formats, generate, tmp_path_factory):
    options = {"files": [str(formats / "test_elekta_3ch_raw.fif")],
               "events": {1: "one", 2: "two", 4: "four"}}
    return generate("rawfiles", options, tmp_path_factory.mktemp("fif"))


def test_elekta_fif_events_of_the_stim_channel_become_trials(elekta, formats):
    raw = _read_back(elekta, "meg")
    original = mne.io.read_raw_fif(formats / "test_elekta_3ch_raw.fif", verbose=False)
    assert np.array_equal(raw.get_data(), original.get_data())
    assert sorted(raw.get_channel_types()) == ["grad", "grad", "mag", "stim"]
    found = mne.find_events(original, shortest_event=1, verbose=False)  # (n_events, 3)
    ones = found[found[:, 2] == 1, 0]
    samples = raw.time_as_index(raw.annotations.onset[raw.annotations.description == "one"],
                                origin=raw.annotations.orig_time, use_rounding=True)
    assert (samples + raw.first_samp).tolist() == ones.tolist()
    assert _counts(raw) == {"one": 26, "two": 25, "four": 18}
    assert _stimuli(elekta) == ["four", "one", "two"]


def test_elekta_fif_goes_through_preprocess(elekta, tmp_path):
    cfg = PreprocessConfig(steps=[
        {"fn": "pick", "kwargs": {"types": ["mag", "grad"]}},
        {"fn": "filter", "kwargs": {"l_freq": 1.0, "h_freq": 40.0}},
        {"fn": "resample", "kwargs": {"sfreq": 100.0}},
        {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.5}},
        {"fn": "baseline", "kwargs": {"tmin": -0.1, "tmax": 0.0}},
    ])
    _, epochs, trials = _preprocess(cfg, elekta, tmp_path, "meg")
    assert epochs.shape == (68, 3, 61)  # the last event, at 79.84 s of 80 s, has no 0.5 s left
    assert set(trials["stimulus_id"]) == {"one", "two", "four"}
    assert trials["onset"].max() < 79.5


@pytest.fixture(scope="module")
def evoked(formats, generate, tmp_path_factory):
    return generate("rawfiles", {"files": [str(formats / "test-ave.fif.gz")]},
                    tmp_path_factory.mktemp("ave"))


def test_evoked_fif_gives_one_run_and_trial_per_condition(evoked, formats):
    averages = mne.read_evokeds(formats / "test-ave.fif.gz", verbose=False)
    for run, average in enumerate(averages, start=1):
        raw = _read_back(evoked, "meg", run=str(run))
        assert _counts(raw) == {average.comment: 1}
        onset = raw.time_as_index(raw.annotations.onset, origin=raw.annotations.orig_time,
                                  use_rounding=True)
        assert onset.tolist() == [-average.first]  # the sample of the average's time zero
        assert np.allclose(raw.get_data(), average.data, rtol=1e-6, atol=0)
    assert _stimuli(evoked) == sorted(average.comment for average in averages)


def test_evoked_fif_goes_through_preprocess(evoked, tmp_path):
    cfg = PreprocessConfig(steps=[
        {"fn": "pick", "kwargs": {"types": ["mag", "grad"]}},
        {"fn": "epoch", "kwargs": {"tmin": -0.15, "tmax": 0.45}},
        {"fn": "baseline", "kwargs": {"tmin": None, "tmax": 0.0}},
    ])
    _, epochs, trials = _preprocess(cfg, evoked, tmp_path, "meg")
    assert epochs.shape[:2] == (4, 306)
    assert trials["run"].astype(str).tolist() == ["1", "2", "3", "4"]
