"""NSD from a miniature of its release: trials, splits, betas, the ROI, the licence, errors."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest
from nsd_fixture import (
    AFFINE,
    BETAS,
    CODE_SCALE,
    GRID,
    SHARED,
    TRIALS_PER_SESSION,
    code_voxel,
    roi_labels,
    write_nsd,
)
from PIL import Image
from pydantic import ValidationError

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json, read_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.studies.nsd import NsdOptions

STEM = "sub-01_ses-{:02d}_desc-betasfithrfGLMdenoiseRR"
RAW_BETAS = f"nsddata_betas/ppdata/subj01/func1pt8mm/{BETAS}"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_nsd(tmp_path_factory.mktemp("nsd"), subjects={"01": GRID, "02": (5, 5, 4)})


@pytest.fixture(scope="module")
def study(release, generate, tmp_path_factory):
    return generate("nsd", {"root": str(release.root), "val_fraction": 0.3},
                    tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def unscaled(study, tmp_path_factory):
    """The study preprocessed without z-scores, so the betas are the release's."""
    out = tmp_path_factory.mktemp("preprocessed")
    summary = preprocess_study(PreprocessConfig(fmri={"standardize": False}), study, out)
    return out, summary


def _copy(release, tmp_path):
    """A copy of the miniature release to damage."""
    return shutil.copytree(release.root, tmp_path / "copy")


def test_every_trial_shows_the_image_masterordering_and_subjectim_give(release, study, unscaled):
    expected = release.trials["01"]
    for session in (1, 2):
        events = read_tsv(study / "sub-01" / "betas" / f"{STEM.format(session)}_events.tsv")
        truth = expected[expected["session"] == session]
        assert events["trial"].tolist() == list(range(TRIALS_PER_SESSION))
        assert events["stimulus_id"].tolist() == [f"nsd{image:05d}" for image in truth["image"]]
    out, _ = unscaled
    betas, trials = np.load(out / "betas.npy"), read_tsv(out / "trials.tsv")
    # the code voxel (first ROI voxel, first column) holds each trial's 73k id / 2
    decoded = np.round(betas[:, 0] / CODE_SCALE).astype(int)
    assert [f"nsd{image:05d}" for image in decoded] == trials["stimulus_id"].tolist()
    assert trials["stimulus_id"].tolist() == [
        f"nsd{image:05d}" for image in expected.loc[expected["session"] <= 2, "image"]]


def test_the_images_are_the_imgbrick_rows_of_their_73k_ids(release, study):
    table = read_tsv(study / "stimuli" / "stimuli.tsv")
    shown = sorted(set(release.trials["01"].query("session <= 2")["image"]))
    assert table["stimulus_id"].tolist() == [f"nsd{image:05d}" for image in shown]
    for name, image in zip(table["image"], shown, strict=True):
        pixels = np.asarray(Image.open(study / "stimuli" / name))
        np.testing.assert_array_equal(pixels, release.images[image - 1])
    assert table["caption"].iloc[0] == f"COCO image {500000 + 7 * (shown[0] - 1)}"


def test_shared_images_are_test_and_no_image_is_in_two_splits(study, unscaled):
    table = read_tsv(study / "stimuli" / "stimuli.tsv")
    shared = {f"nsd{image:05d}" for image in SHARED}
    assert set(table.loc[table["split"] == "test", "stimulus_id"]) == shared
    assert table["stimulus_id"].is_unique
    assert table["split"].value_counts().to_dict() == {"train": 5, "test": 3, "val": 2}
    trials = read_tsv(unscaled[0] / "trials.tsv")
    assert trials.groupby("stimulus_id")["split"].nunique().max() == 1
    assert unscaled[1]["n_trials"] == {"train": 10, "val": 5, "test": 9}  # 3 x 3 shared


def test_repetitions_count_the_earlier_showings(unscaled):
    trials = read_tsv(unscaled[0] / "trials.tsv")
    for _, showings in trials.groupby("stimulus_id"):
        assert showings["repetition"].tolist() == list(range(len(showings)))
    assert trials.groupby("stimulus_id").size().max() == 3
    assert set(trials["session"]) == {1, 2} and set(trials["subject"]) == {"01"}


def test_the_betas_are_the_releases_int16_over_300_on_its_grid(release, study):
    inside = roi_labels(GRID) > 0
    for session in (1, 2):
        img = nib.load(study / "sub-01" / "betas" / f"{STEM.format(session)}_betas.nii.gz")
        assert img.get_data_dtype() == np.float32 and img.shape == (*GRID, TRIALS_PER_SESSION)
        np.testing.assert_allclose(img.affine, AFFINE)
        data = np.asarray(img.dataobj)
        expected = release.betas["01", session].astype(np.float32) / np.float32(300)
        np.testing.assert_array_equal(data[inside], expected[inside])
        assert not data[~inside].any()  # zero outside the ROI
        sidecar = read_json(img.get_filename().replace("_betas.nii.gz", "_betas.json"))
        assert sidecar["Units"] == "percent signal change" and sidecar["Estimates"] == BETAS
        assert sidecar["Sources"] == [f"{RAW_BETAS}/betas_session{session:02d}.nii.gz"]


def test_preprocessing_keeps_the_roi_voxels_in_argwhere_order(release, unscaled):
    out, summary = unscaled
    labels = roi_labels(GRID)
    ijk = np.argwhere(labels > 0)  # -1 (outside the brain) and 0 are left out
    betas, info = np.load(out / "betas.npy"), read_json(out / "info.json")
    assert betas.dtype == np.float32 and betas.shape == (2 * TRIALS_PER_SESSION, len(ijk))
    assert summary["n_voxels"] == info["n_voxels"] == len(ijk) == 19
    assert info["ch_names"][0] == "v{}_{}_{}".format(*code_voxel(GRID))
    assert info["datatype"] == "betas" and info["estimator"] == BETAS
    assert info["shape"] == list(GRID) and info["tr"] == pytest.approx(4 / 3)
    stored = np.concatenate([release.betas["01", 1], release.betas["01", 2]], axis=-1)
    np.testing.assert_allclose(betas, stored[tuple(ijk.T)].T / 300, rtol=0, atol=1e-6)
    mask = np.asarray(nib.load(out / "mask.nii.gz").dataobj)
    np.testing.assert_array_equal(mask > 0, labels > 0)


def test_standardize_z_scores_each_voxel_within_a_session(study, tmp_path):
    preprocess_study(PreprocessConfig(fmri={"standardize": True}), study, tmp_path)
    betas = np.load(tmp_path / "betas.npy")
    trials = read_tsv(tmp_path / "trials.tsv")
    for session in (1, 2):
        rows = betas[(trials["session"] == session).to_numpy()]
        np.testing.assert_allclose(rows.mean(axis=0), 0.0, atol=1e-5)
        np.testing.assert_allclose(rows.std(axis=0), 1.0, atol=1e-4)


def test_trials_of_one_image_resemble_each_other_more_than_others(unscaled):
    betas = np.load(unscaled[0] / "betas.npy")[:, 1:]  # without the code voxel
    stimuli = read_tsv(unscaled[0] / "trials.tsv")["stimulus_id"].to_numpy()
    similarity = np.corrcoef(betas)
    same = stimuli[:, None] == stimuli[None, :]
    off_diagonal = ~np.eye(len(stimuli), dtype=bool)
    assert similarity[same & off_diagonal].mean() > similarity[~same].mean() + 0.3


def test_the_licence_and_citation_travel_with_the_data(study, unscaled):
    description = read_json(study / "dataset_description.json")
    assert description["License"].startswith("NSD Terms and Conditions (non-commercial research)")
    assert description["Authors"][0] == "Emily J. Allen"
    assert description["Authors"][-1] == "Kendrick Kay"
    assert description["ReferencesAndLinks"][0] == "https://doi.org/10.1038/s41593-021-00962-x"
    assert "10.48550/arXiv.1405.0312" in description["ReferencesAndLinks"][1]
    source = read_json(unscaled[0] / "info.json")["source"]
    assert source["license"].startswith("NSD Terms and Conditions")
    assert source["authors"][0] == "Emily J. Allen"


def test_subjects_and_sessions_are_checked(release, generate, tmp_path):
    assert NsdOptions(root="x", subjects=[1, "subj02"]).subjects == ["01", "02"]
    with pytest.raises(ValidationError, match="expected a subject number"):
        NsdOptions(root="x", subjects=["one"])
    with pytest.raises(ValidationError, match="expected each one once"):
        NsdOptions(root="x", subjects=["1", "01"])
    options = {"root": str(release.root)}
    with pytest.raises(ParamsError, match=r"nsd\.subjects: got 03; expected subjects with "
                                          r".*: 01, 02"):
        generate("nsd", {**options, "subjects": ["03"]}, tmp_path / "a")
    with pytest.raises(ParamsError, match=r"nsd\.sessions: got 5; expected sessions of .*: 1, 2"):
        generate("nsd", {**options, "sessions": [5]}, tmp_path / "b")
    with pytest.raises(ParamsError, match=r"subj02's grid \(5, 5, 4\) differs from \(6, 5, 4\)"):
        generate("nsd", {**options, "subjects": ["01", "02"]}, tmp_path / "c")
    one = generate("nsd", {**options, "sessions": [2]}, tmp_path / "d")
    assert sorted(path.name for path in (one / "sub-01" / "betas").glob("*_betas.nii.gz")) == [
        f"{STEM.format(2)}_betas.nii.gz"]


def test_a_missing_file_is_named(release, generate, tmp_path):
    root = _copy(release, tmp_path)
    (root / "nsddata" / "experiments" / "nsd" / "nsd_stim_info_merged.csv").unlink()
    with pytest.raises(DataError, match=r"nsd_stim_info_merged\.csv: file not found; expected "
                                        r"the image table of the NSD release layout"):
        generate("nsd", {"root": str(root)}, tmp_path / "out")
    with pytest.raises(DataError, match=r"not a folder \(study\.options\.nsd\.root\)"):
        generate("nsd", {"root": str(tmp_path / "none")}, tmp_path / "out")
    (root / "nsddata" / "ppdata" / "subj01" / "func1pt8mm" / "roi" / "nsdgeneral.nii.gz").unlink()
    shutil.copy(release.root / "nsddata" / "experiments" / "nsd" / "nsd_stim_info_merged.csv",
                root / "nsddata" / "experiments" / "nsd")
    with pytest.raises(DataError, match=r"nsdgeneral\.nii\.gz: file not found; expected the ROI"):
        generate("nsd", {"root": str(root)}, tmp_path / "out2")


def test_wrong_shapes_are_named_with_what_was_expected(release, generate, tmp_path):
    from scipy.io import loadmat, savemat

    root = _copy(release, tmp_path)
    design = root / "nsddata" / "experiments" / "nsd" / "nsd_expdesign.mat"
    saved = loadmat(design)
    saved = {key: value for key, value in saved.items() if not key.startswith("__")}
    savemat(design, {**saved, "masterordering": saved["masterordering"][:, :-1]})
    with pytest.raises(DataError, match=r"nsd_expdesign\.mat: masterordering of 479 trials; "
                                        r"expected 40 sessions"):
        generate("nsd", {"root": str(root)}, tmp_path / "a")
    savemat(design, saved)
    short = root / RAW_BETAS / "betas_session01.nii.gz"
    nib.save(nib.Nifti1Image(release.betas["01", 1][..., :11], AFFINE), short)
    with pytest.raises(DataError, match=r"betas_session01\.nii\.gz: shape \(6, 5, 4, 11\); "
                                        r"expected \(x, y, z, 12 trials\)"):
        generate("nsd", {"root": str(root)}, tmp_path / "b")
    nib.save(nib.Nifti1Image(release.betas["01", 1].astype(np.float32), AFFINE), short)
    with pytest.raises(DataError, match=r"float32 data.*expected unscaled int16 betas x 300"):
        generate("nsd", {"root": str(root)}, tmp_path / "c")
    shutil.copy(release.root / RAW_BETAS / "betas_session01.nii.gz", short)
    roi = root / "nsddata" / "ppdata" / "subj01" / "func1pt8mm" / "roi" / "nsdgeneral.nii.gz"
    nib.save(nib.Nifti1Image(roi_labels((6, 5, 3)), AFFINE), roi)
    with pytest.raises(DataError, match=r"nsdgeneral\.nii\.gz: shape \(6, 5, 3\); expected "
                                        r"\(6, 5, 4\)"):
        generate("nsd", {"root": str(root)}, tmp_path / "d")


def test_an_image_store_too_small_is_named(release, generate, tmp_path):
    import h5py

    root = _copy(release, tmp_path)
    store = root / "nsddata_stimuli" / "stimuli" / "nsd" / "nsd_stimuli.hdf5"
    with h5py.File(store, "w") as images:
        images.create_dataset("imgBrick", data=release.images[:10])
    with pytest.raises(DataError, match=r"nsd_stimuli\.hdf5: imgBrick of shape \(10, 16, 16, 3\)"
                                        r" uint8; expected .* holding image 38"):
        generate("nsd", {"root": str(root)}, tmp_path / "out")


def test_betas_on_another_grid_than_the_first_are_refused(study, tmp_path):
    raw = shutil.copytree(study, tmp_path / "raw")
    second = raw / "sub-01" / "betas" / f"{STEM.format(2)}_betas.nii.gz"
    img = nib.load(second)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:, :, :3], img.affine), second)
    with pytest.raises(DataError, match=r"grid \(6, 5, 3\) differs from \(6, 5, 4\) of the "
                                        r"first betas file"):
        preprocess_study(PreprocessConfig(), raw, tmp_path)


def test_sessions_read_and_written_a_few_volumes_at_a_time_give_the_same_bytes(
        release, study, unscaled, generate, tmp_path, monkeypatch):
    import pipeline.preprocess.betas
    import pipeline.studies.nsd_release

    monkeypatch.setattr(pipeline.studies.nsd_release, "CHUNK_BYTES", 4 * int(np.prod(GRID)) * 5)
    chunked = generate("nsd", {"root": str(release.root), "val_fraction": 0.3}, tmp_path / "raw")
    for path in sorted(study.rglob("*")):
        if path.is_file():
            assert (chunked / path.relative_to(study)).read_bytes() == path.read_bytes(), path
    monkeypatch.setattr(pipeline.preprocess.betas, "CHUNK_BYTES", 8 * int(np.prod(GRID)) * 5)
    out = tmp_path / "out"
    out.mkdir()
    preprocess_study(PreprocessConfig(fmri={"standardize": False}), chunked, out)
    np.testing.assert_array_equal(np.load(out / "betas.npy"), np.load(unscaled[0] / "betas.npy"))
