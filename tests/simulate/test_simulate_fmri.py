"""The simulated fMRI study: BIDS layout, design, confounds, oracle, truth."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from pipeline.io import read_json
from pipeline.simulate.fmri_design import LEAD_OUT
from pipeline.simulate.fmri_noise import PHYSIO_COLUMNS
from pipeline.simulate.modalities import SIMULATORS, simulate_study
from pipeline.simulate.options import SimulateConfig

FMRI = {"voxel_size": 12.0, "run_duration": 60.0, "oracle_voxels": 20, "oracle_noise_runs": 2}


def fmri_config(**changes: object) -> SimulateConfig:
    """2 subjects, 12/4/4 stimuli, test stimuli twice, 12 mm voxels, runs of about a minute."""
    base = {"modality": "fmri", "n_subjects": 2, "stimuli": {"train": 12, "val": 4, "test": 4},
            "test_repetitions": 2, "image_size": 32, "n_sources": 8, "snr": 1.0, "fmri": FMRI}
    return SimulateConfig.model_validate({**base, **changes})


@pytest.fixture(scope="module")
def fmri_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fmri") / "raw"
    simulate_study(fmri_config(), root)
    return root


def _runs(root: Path, subject: str) -> list[Path]:
    return sorted((root / f"sub-{subject}" / "func").glob("*_bold.nii.gz"))


def test_fmri_is_a_registered_modality():
    assert "fmri" in SIMULATORS
    assert fmri_config().fmri.tr == 2.0


@pytest.mark.parametrize(("changes", "message"), [
    ({"tr": 2.5}, r"fmri\.tr"),
    ({"isi": [6.0, 3.0]}, r"isi: got \[6\.0, 3\.0\]"),
    ({"event_duration": 4.0}, r"event_duration: got 4\.0; expected at most isi low \(3\.0\)"),
    ({"noise": {"thermal": 0, "network": 0, "physio": 0, "drift": 0}}, "at least one positive"),
])
def test_fmri_options_are_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        fmri_config(fmri={**FMRI, **changes})


def test_bids_layout_and_nifti(fmri_study):
    for subject in ("01", "02"):
        runs = _runs(fmri_study, subject)
        assert len(runs) >= 2
        for path in runs:
            img = nib.load(path)
            assert img.ndim == 4 and img.shape[3] > 10
            assert img.header.get_zooms() == pytest.approx((12.0, 12.0, 12.0, 2.0))
            assert img.header.get_xyzt_units() == ("mm", "sec")
            sidecar = json.loads(path.with_name(path.name.replace(".nii.gz", ".json")).read_text())
            assert sidecar["RepetitionTime"] == 2.0 and sidecar["TaskName"] == "images"
            data = np.asarray(img.dataobj)
            inside = data[..., 0] > 0
            assert 500 < inside.sum() < 2000  # the MNI152 brain at 12 mm
            assert 800 < np.median(data[inside].mean(axis=-1)) < 1200  # baseline intensity
    assert "simulated" in (fmri_study / "README").read_text()
    assert "fMRI" in read_json(fmri_study / "dataset_description.json")["Name"]
    masks = sorted((fmri_study / "derivatives").rglob("*desc-brain_mask.nii.gz"))
    assert len(masks) == 2


def test_events_follow_the_design(fmri_study):
    stimuli = pd.read_csv(fmri_study / "stimuli" / "stimuli.tsv", sep="\t")
    cfg = fmri_config()
    for subject in ("01", "02"):
        tables = []
        for path in _runs(fmri_study, subject):
            events = pd.read_csv(str(path).replace("_bold.nii.gz", "_events.tsv"), sep="\t")
            assert list(events.columns) == ["onset", "duration", "trial_type"]
            intervals = np.diff(events["onset"].to_numpy())
            assert intervals.min() >= 3.0 - 1e-3 and intervals.max() <= 6.0 + 1e-3
            assert intervals.std() > 0.2  # jittered
            n_volumes = nib.load(path).shape[3]
            last = events["onset"].iloc[-1] + events["duration"].iloc[-1]
            assert last + LEAD_OUT <= n_volumes * cfg.fmri.tr < last + LEAD_OUT + cfg.fmri.tr
            tables.append(events)
        counts = pd.concat(tables)["trial_type"].value_counts()
        expected = stimuli.set_index("stimulus_id")["split"].map({"test": 2, "train": 1, "val": 1})
        assert counts.sort_index().to_dict() == expected.sort_index().to_dict()


def test_confounds_hold_physiological_regressors(fmri_study):
    for path in _runs(fmri_study, "01"):
        stem = path.name.removesuffix("_bold.nii.gz")
        table = pd.read_csv(fmri_study / "derivatives" / "confounds" / "sub-01" / "func"
                            / f"{stem}_desc-confounds_timeseries.tsv", sep="\t")
        assert list(table.columns) == ["global_signal", *PHYSIO_COLUMNS]
        assert len(table) == nib.load(path).shape[3]
        for signal in ("cardiac", "respiratory"):
            power = table[f"{signal}_sin1"] ** 2 + table[f"{signal}_cos1"] ** 2
            np.testing.assert_allclose(power, 1.0, atol=1e-4)


def test_oracle_files_and_oracle_beats_chance(fmri_study, oracle_score):
    info = read_json(fmri_study / "derivatives" / "oracle" / "oracle.json")
    assert info["representation"] == "lss_betas" and info["n_voxels"] == 20
    truth = read_json(fmri_study / "derivatives" / "simulation" / "truth.json")
    for subject in ("01", "02"):
        data = dict(np.load(fmri_study / "derivatives" / "oracle" / f"sub-{subject}_oracle.npz"))
        assert data["templates"].shape == (4, 20, 1)
        assert data["trials"].shape == (8, 20, 1)
        assert sorted(data["trial_stimulus_ids"]) == sorted(list(data["stimulus_ids"]) * 2)
        assert data["noise_cov"].shape == (20, 20)
        np.linalg.cholesky(data["noise_cov"])
        assert oracle_score(data, average=False) > 0.5  # chance 0.25
        assert len(truth["subjects"][subject]["oracle_voxels"]) == 20


def test_oracle_noise_covariance_matches_the_trials_errors(fmri_study):
    """The errors of the recorded test trials have the variance the oracle assumes."""
    errors, variances = [], []
    for subject in ("01", "02"):
        data = dict(np.load(fmri_study / "derivatives" / "oracle" / f"sub-{subject}_oracle.npz"))
        row = {stimulus: index for index, stimulus in enumerate(data["stimulus_ids"])}
        templates = data["templates"][[row[s] for s in data["trial_stimulus_ids"]]]
        errors.append((data["trials"] - templates)[..., 0])
        variances.append(np.diag(data["noise_cov"]))
    ratio = np.mean(np.concatenate(errors) ** 2) / np.mean(variances)
    assert 0.5 < ratio < 2.0


def test_truth_and_reproducibility(fmri_study, tmp_path):
    truth = read_json(fmri_study / "derivatives" / "simulation" / "truth.json")
    assert truth["tr"] == 2.0 and truth["voxel_size_mm"] == 12.0
    gains = [truth["subjects"][s]["response_gain"] for s in ("01", "02")]
    assert gains[0] != gains[1] and all(0.5 < g < 2.0 for g in gains)
    again = tmp_path / "raw"
    simulate_study(fmri_config(n_subjects=1), again)
    first = np.asarray(nib.load(_runs(fmri_study, "01")[0]).dataobj)
    np.testing.assert_array_equal(np.asarray(nib.load(_runs(again, "01")[0]).dataobj), first)
