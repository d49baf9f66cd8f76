"""Build tiny BIDS fMRI studies for the preprocess tests, with known single-trial betas.

A 10 x 10 x 8 grid of 4 mm voxels; the brain is the box [2, 8) x [2, 8) x [1, 7) (zero
outside). Each run shows every stimulus of STIMULI once, 8 s apart; each voxel is
``100 + sum_i beta[stimulus_i, voxel] * regressor_i + drift + weight * physio + noise``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from pipeline.preprocess.fmri_glm import event_regressors

SHAPE = (10, 10, 8)
BRAIN = (slice(2, 8), slice(2, 8), slice(1, 7))
VOXEL = 4.0
AFFINE = np.diag([VOXEL, VOXEL, VOXEL, 1.0]) + np.array([[0, 0, 0, -20], [0, 0, 0, -20],
                                                          [0, 0, 0, -16], [0, 0, 0, 0]])
TR = 2.0
ISI = 8.0
STIMULI = pd.DataFrame({
    "stimulus_id": [f"stim{index:04d}" for index in range(12)],
    "split": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
})


def brain_mask() -> np.ndarray:
    """The brain box as a boolean volume."""
    mask = np.zeros(SHAPE, dtype=bool)
    mask[BRAIN] = True
    return mask


def true_betas(seed: int = 0) -> np.ndarray:
    """Each stimulus's beta at each brain voxel, (n_stimuli, n_voxels), C order of the box."""
    return 2.0 * np.random.default_rng(seed).standard_normal((len(STIMULI), brain_mask().sum()))


def write_run(root: Path, subject: str, run: int, betas: np.ndarray, seed: int,
              noise: float = 0.2, physio: float = 3.0) -> Path:
    """Write one run (bold, json, events) and its confounds; return the NIfTI path."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(STIMULI))
    onsets = 4.0 + ISI * np.arange(len(order))
    n_frames = int((onsets[-1] + 20.0) / TR)
    frame_times = np.arange(n_frames) * TR
    regressors = event_regressors(onsets, np.ones(len(order)), frame_times, TR)  # (T, N)
    cardiac = np.sin(2 * np.pi * 0.13 * frame_times + rng.uniform(0, 6))  # (T,)
    drift = np.linspace(-1, 1, n_frames)
    n_voxels = betas.shape[1]
    data = (100.0 + regressors @ betas[order]
            + physio * np.outer(cardiac, rng.uniform(0.5, 1, n_voxels))
            + np.outer(drift, rng.standard_normal(n_voxels))
            + noise * rng.standard_normal((n_frames, n_voxels)))  # (T, V)
    volume = np.zeros((*SHAPE, n_frames), dtype=np.float32)
    volume[brain_mask()] = data.T
    folder = root / f"sub-{subject}" / "func"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"sub-{subject}_task-images_run-{run:02d}"
    img = nib.Nifti1Image(volume, AFFINE)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((VOXEL, VOXEL, VOXEL, TR))
    nib.save(img, folder / f"{stem}_bold.nii.gz")
    (folder / f"{stem}_bold.json").write_text(json.dumps({"RepetitionTime": TR,
                                                         "TaskName": "images"}))
    events = pd.DataFrame({"onset": onsets, "duration": 1.0,
                           "trial_type": STIMULI["stimulus_id"].to_numpy()[order]})
    events = pd.concat([events, pd.DataFrame({"onset": [1.0], "duration": [1.0],
                                              "trial_type": ["fixation"]})])
    events.to_csv(folder / f"{stem}_events.tsv", sep="\t", index=False)
    confounds = root / "derivatives" / "prep" / f"sub-{subject}" / "func"
    confounds.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"cardiac_sin1": cardiac, "global_signal": data.mean(axis=1)}).to_csv(
        confounds / f"{stem}_desc-confounds_timeseries.tsv", sep="\t", index=False)
    return folder / f"{stem}_bold.nii.gz"


def write_func_study(root: Path, subjects: tuple[str, ...] = ("01", "02"), n_runs: int = 2,
                     mask: bool = True, **kwargs: float) -> np.ndarray:
    """Write a tiny BIDS fMRI study under ``root``; return the true betas (n_stimuli, V)."""
    betas = true_betas()
    for s, subject in enumerate(subjects):
        for run in range(1, n_runs + 1):
            write_run(root, subject, run, betas, seed=100 * s + run, **kwargs)
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    STIMULI.to_csv(root / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    if mask:
        nib.save(nib.Nifti1Image(brain_mask().astype(np.uint8), AFFINE),
                 root / "derivatives" / "prep" / "sub-01" / "func"
                 / "sub-01_task-images_desc-brain_mask.nii.gz")
    return betas
