"""The written study: BIDS root, stimuli files, oracle inputs, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mne_bids import BIDSPath, read_raw_bids

from pipeline.io import read_json
from pipeline.simulate.eeg import CHANNELS
from pipeline.simulate.modalities import simulate_study


def _raw(root, subject):
    path = BIDSPath(subject=subject, task="images", datatype="eeg", root=root)
    return read_raw_bids(path, verbose=False)


def test_bids_layout(tiny_study):
    eeg = tiny_study / "sub-01" / "eeg"
    for suffix in ("eeg.vhdr", "eeg.eeg", "eeg.vmrk", "events.tsv", "channels.tsv",
                   "electrodes.tsv", "coordsystem.json"):
        assert list(eeg.glob(f"sub-01_*{suffix}")), suffix
    assert (eeg / "sub-01_task-images_eeg.vhdr").is_file()
    assert (tiny_study / "sub-02" / "eeg" / "sub-02_task-images_eeg.vhdr").is_file()
    assert not (tiny_study / "sub-03").exists()
    assert "simulated" in (tiny_study / "README").read_text()
    assert read_json(tiny_study / "dataset_description.json")["Name"]


def test_recording_reads_back_with_annotations(tiny_study, tiny_cfg):
    raw = _raw(tiny_study, "01")
    assert raw.ch_names == list(CHANNELS)
    assert raw.info["sfreq"] == tiny_cfg.sfreq
    positions = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    assert np.isfinite(positions).all()
    descriptions = list(raw.annotations.description)
    assert len(descriptions) == 12 + 4 + 4 * 2
    stimuli = pd.read_csv(tiny_study / "stimuli" / "stimuli.tsv", sep="\t")
    assert set(descriptions) == set(stimuli["stimulus_id"])
    assert np.all(raw.annotations.duration == 0)
    assert np.all(np.diff(raw.annotations.onset) > 0.85)
    data = raw.get_data()
    std = np.median(data.std(axis=1))
    assert 5e-6 < std < 2e-4  # tens of microvolts, in volts
    truth = read_json(tiny_study / "derivatives" / "simulation" / "truth.json")
    assert len(truth["subjects"]["01"]["bad_channels"]) == tiny_cfg.noise.bad_channels


def test_stimuli_files(tiny_study):
    from PIL import Image

    table = pd.read_csv(tiny_study / "stimuli" / "stimuli.tsv", sep="\t")
    latents = np.load(tiny_study / "stimuli" / "latents.npy")
    assert latents.dtype == np.float32 and latents.shape[0] == len(table) == 20
    for image in table["image"]:
        assert np.asarray(Image.open(tiny_study / "stimuli" / image)).shape == (32, 32, 3)
    assert {"caption", "shape", "colour", "size", "yaw", "pitch", "background"} <= set(table)


def test_oracle_files(tiny_study, tiny_cfg):
    info = read_json(tiny_study / "derivatives" / "oracle" / "oracle.json")
    assert set(info) == {"sfreq", "tmin", "tmax", "n_noise_epochs", "space", "description"}
    assert info["space"] == "sensors"
    n_times = round((info["tmax"] - info["tmin"]) * info["sfreq"])
    data = np.load(tiny_study / "derivatives" / "oracle" / "sub-01_oracle.npz")
    assert data["templates"].shape == (4, 64, n_times) and data["templates"].dtype == np.float64
    assert data["trials"].shape == (8, 64, n_times)
    assert sorted(data["trial_stimulus_ids"]) == sorted(list(data["stimulus_ids"]) * 2)
    stimuli = pd.read_csv(tiny_study / "stimuli" / "stimuli.tsv", sep="\t")
    test_ids = stimuli.loc[stimuli["split"] == "test", "stimulus_id"]
    assert list(data["stimulus_ids"]) == list(test_ids)
    cov = data["noise_cov"]
    assert cov.shape == (64 * n_times, 64 * n_times)
    np.testing.assert_allclose(cov, cov.T)
    np.linalg.cholesky(cov)  # positive definite


def test_oracle_trials_match_the_recording(tiny_study, tiny_cfg):
    """Trials in the oracle file are the recorded data, low-passed and sampled at the onsets."""
    from pipeline.simulate.oracle import represent

    raw = _raw(tiny_study, "02")
    data = np.load(tiny_study / "derivatives" / "oracle" / "sub-02_oracle.npz")
    test_ids = set(data["stimulus_ids"])
    keep = [d in test_ids for d in raw.annotations.description]
    samples = np.round(raw.annotations.onset[keep] * raw.info["sfreq"]).astype(int)
    trials = represent(raw.get_data(), raw.info["sfreq"], samples, tiny_cfg.oracle)
    np.testing.assert_allclose(trials, data["trials"], atol=1e-3 * np.abs(data["trials"]).max())


def test_oracle_identifies_stimuli_at_high_snr(tmp_path, make_config, oracle_score):
    root = tmp_path / "raw"
    simulate_study(make_config(snr=0.5, n_subjects=1), root)
    assert oracle_score(root / "derivatives" / "oracle" / "sub-01_oracle.npz") == 1.0


def test_same_seed_same_study(tiny_study, tiny_cfg, tmp_path):
    again = tmp_path / "raw"
    simulate_study(tiny_cfg, again)
    np.testing.assert_array_equal(_raw(again, "01").get_data(), _raw(tiny_study, "01").get_data())
    for name in ("sub-01_oracle.npz", "sub-02_oracle.npz"):
        first = np.load(tiny_study / "derivatives" / "oracle" / name)
        second = np.load(again / "derivatives" / "oracle" / name)
        for key in first.files:
            np.testing.assert_array_equal(first[key], second[key])
    np.testing.assert_array_equal(np.load(again / "stimuli" / "latents.npy"),
                                  np.load(tiny_study / "stimuli" / "latents.npy"))


@pytest.mark.slow
def test_oracle_tracks_snr(tmp_path, oracle_score):
    """At a low snr the oracle retrieves 40 test stimuli well but not perfectly; more snr helps."""
    from pipeline.simulate.options import SimulateConfig, SplitSizes

    means = {}
    for snr in (0.035, 0.2):
        root = tmp_path / f"raw-{snr}"
        cfg = SimulateConfig(snr=snr, stimuli=SplitSizes(train=8, val=4, test=40))
        simulate_study(cfg, root)
        files = sorted((root / "derivatives" / "oracle").glob("*.npz"))
        means[snr] = np.mean([oracle_score(path) for path in files])
    assert 0.6 <= means[0.035] <= 0.95
    assert means[0.2] > means[0.035]
