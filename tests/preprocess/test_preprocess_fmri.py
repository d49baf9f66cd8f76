"""The fMRI preprocessing pipeline (datatype func) on tiny BIDS studies with known betas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from fmri_fixtures import STIMULI, TR, brain_mask, write_func_study

from pipeline.artifacts import read_preprocessed
from pipeline.errors import DataError
from pipeline.io import read_json
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import PIPELINES, preprocess_study

N_VOXELS = int(brain_mask().sum())


def _cfg(**fmri: object) -> PreprocessConfig:
    return PreprocessConfig.model_validate({"steps": [], "fmri": {"confounds": ["cardiac_*"],
                                                                  **fmri}})


@pytest.fixture(scope="module")
def func_study(tmp_path_factory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("func") / "raw"
    return root, write_func_study(root)


@pytest.fixture(scope="module")
def lss_output(func_study, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("betas")
    return preprocess_study(_cfg(standardize=False), func_study[0], out), out


@pytest.fixture
def study_copy(func_study, tmp_path) -> Path:
    return Path(shutil.copytree(func_study[0], tmp_path / "raw"))


def test_func_is_a_registered_datatype():
    assert "func" in PIPELINES


def test_contract(lss_output):
    summary, out = lss_output
    betas = np.load(out / "betas.npy", mmap_mode="r")
    n_trials = 2 * 2 * len(STIMULI)  # subjects x runs x stimuli; fixation is not a trial
    assert betas.shape == (n_trials, N_VOXELS) and betas.dtype == np.float32
    assert summary["n_trials"] == {"train": 32, "val": 8, "test": 8}
    assert summary["n_voxels"] == N_VOXELS and summary["n_recordings"] == 4
    trials = pd.read_csv(out / "trials.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(trials.columns) == ["subject", "session", "run", "stimulus_id", "split",
                                    "repetition", "onset", "block"]
    assert set(trials["run"]) == {"01", "02"} and set(trials["session"]) == {"n/a"}
    assert trials.groupby(["subject", "stimulus_id"])["repetition"].max().eq("1").all()
    assert (trials["split"] == trials["stimulus_id"].map(STIMULI.set_index("stimulus_id")["split"])
            ).all()
    mask = nib.load(out / "mask.nii.gz")
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, brain_mask())
    info = read_json(out / "info.json")
    assert info["tr"] == TR and info["sfreq"] == 1 / TR and info["estimator"] == "lss"
    assert len(info["ch_names"]) == len(info["ch_pos"]) == info["n_voxels"] == N_VOXELS
    assert set(info["ch_types"]) == {"voxel"}
    assert np.abs(np.asarray(info["ch_pos"])).max() < 0.1  # metres
    np.testing.assert_allclose(info["affine"], mask.affine)


def test_lss_betas_recover_the_true_betas(lss_output, func_study):
    _, out = lss_output
    betas = np.load(out / "betas.npy")
    trials = pd.read_csv(out / "trials.tsv", sep="\t")
    truth = func_study[1][trials["stimulus_id"].map({s: i for i, s in
                                                     enumerate(STIMULI["stimulus_id"])})]
    assert np.corrcoef(betas.ravel(), truth.ravel())[0, 1] > 0.85  # LSS leaks a little


def test_read_preprocessed_views_betas_as_one_time_point(lss_output):
    data = read_preprocessed(lss_output[1])
    assert data.epochs.shape == (48, N_VOXELS, 1)
    assert isinstance(data.epochs, np.memmap)
    assert data.info["ch_types"][0] == "voxel"


def test_confounds_matter(func_study, lss_output, tmp_path):
    """Without the physiological confound the betas are noisier."""
    preprocess_study(_cfg(standardize=False, confounds=[]), func_study[0], tmp_path)
    trials = pd.read_csv(tmp_path / "trials.tsv", sep="\t")
    truth = func_study[1][trials["stimulus_id"].map({s: i for i, s in
                                                     enumerate(STIMULI["stimulus_id"])})]
    error = {name: np.mean((np.load(path / "betas.npy") - truth) ** 2)
             for name, path in (("with", lss_output[1]), ("without", tmp_path))}
    assert error["with"] < 0.5 * error["without"]


def test_lagged_standardized_estimates(func_study, tmp_path):
    summary = preprocess_study(_cfg(estimator="lagged", lag_window=[4.0, 8.0]),
                               func_study[0], tmp_path)
    betas = np.load(tmp_path / "betas.npy")
    assert betas.shape == (48, N_VOXELS) and summary["n_trials"]["train"] == 32
    run = betas[:12]  # the first run's trials
    np.testing.assert_allclose(run.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(run.std(axis=0), 1.0, atol=1e-4)
    trials = pd.read_csv(tmp_path / "trials.tsv", sep="\t")
    truth = func_study[1][trials["stimulus_id"].map({s: i for i, s in
                                                     enumerate(STIMULI["stimulus_id"])})]
    assert np.corrcoef(betas.ravel(), truth.ravel())[0, 1] > 0.6


def test_epi_mask_when_the_study_has_none(study_copy, tmp_path):
    for path in (study_copy / "derivatives").rglob("*desc-brain_mask.nii.gz"):
        path.unlink()
    summary = preprocess_study(_cfg(mask="auto"), study_copy, tmp_path)  # falls back to epi
    mask = np.asarray(nib.load(tmp_path / "mask.nii.gz").dataobj) > 0
    assert summary["n_voxels"] == mask.sum() > 0 and (mask <= brain_mask()).all()


def test_an_empty_epi_mask_is_a_data_error(func_study, tmp_path, monkeypatch):
    import nilearn.masking

    def empty(imgs, **kwargs):
        img = nib.load(imgs[0])
        return nib.Nifti1Image(np.zeros(img.shape[:3], np.uint8), img.affine)

    monkeypatch.setattr(nilearn.masking, "compute_multi_epi_mask", empty)
    with pytest.raises(DataError, match=r"empty EPI mask.*set preprocess.fmri.mask_file"):
        preprocess_study(_cfg(mask="epi"), func_study[0], tmp_path)


def test_missing_events_names_the_file(study_copy, tmp_path):
    events = study_copy / "sub-02" / "func" / "sub-02_task-images_run-01_events.tsv"
    events.unlink()
    with pytest.raises(DataError, match=rf"{events}: file not found"):
        preprocess_study(_cfg(), study_copy, tmp_path)


def test_mismatched_tr_names_the_file(study_copy, tmp_path):
    sidecar = study_copy / "sub-01" / "func" / "sub-01_task-images_run-02_bold.json"
    sidecar.write_text(json.dumps({"RepetitionTime": 1.5}))
    with pytest.raises(DataError, match=rf"{sidecar}: RepetitionTime 1.5 s differs from the "
                                        r"2.0 s in the header of .*run-02_bold.nii.gz"):
        preprocess_study(_cfg(), study_copy, tmp_path)


def test_missing_confound_column_names_the_file(func_study, tmp_path):
    with pytest.raises(DataError, match=r"desc-confounds_timeseries.tsv: no column matches "
                                        r"'respiratory_\*'; found cardiac_sin1, global_signal"):
        preprocess_study(_cfg(confounds=["respiratory_*"]), func_study[0], tmp_path)


def test_missing_confounds_file_names_the_path(study_copy, tmp_path):
    shutil.rmtree(study_copy / "derivatives" / "prep" / "sub-02")
    with pytest.raises(DataError, match=r"sub-02_task-images_run-01_desc-confounds_timeseries"
                                        r".tsv: file not found"):
        preprocess_study(_cfg(), study_copy, tmp_path)


def test_mask_file_and_grid_errors(study_copy, tmp_path):
    with pytest.raises(DataError, match=r"nomask.nii.gz: file not found"):
        preprocess_study(_cfg(mask_file="nomask.nii.gz"), study_copy, tmp_path)
    bold = study_copy / "sub-02" / "func" / "sub-02_task-images_run-02_bold.nii.gz"
    img = nib.load(bold)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:9], img.affine, img.header), bold)
    with pytest.raises(DataError, match=rf"{bold}: grid \(9, 10, 8\) differs from the first"):
        preprocess_study(_cfg(), study_copy, tmp_path)
