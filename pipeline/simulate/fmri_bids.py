"""Write the simulated fMRI study as BIDS: BOLD NIfTI, sidecars, events, confounds, masks."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from pipeline.io import write_json, write_tsv
from pipeline.simulate.bids import TASK, write_description
from pipeline.simulate.fmri_voxels import VoxelGrid

CONFOUNDS = Path("derivatives") / "confounds"
DESCRIPTION = (
    "mixed into smooth occipito-temporal maps over the voxels of nilearn's MNI152 brain mask "
    "and convolved with the canonical Glover HRF (event-related design, jittered intervals), "
    "plus drift, cardiac and respiratory (aliased at the TR), network and AR(1) thermal noise; "
    "derivatives/confounds/ holds fMRIPrep-like confounds (physiological regressors, global "
    "signal) and the brain mask"
)


def run_stem(subject: str, run: int) -> str:
    """``sub-01_task-images_run-01``."""
    return f"sub-{subject}_task-{TASK}_run-{run:02d}"


def write_bold(root: Path, subject: str, run: int, data: np.ndarray, grid: VoxelGrid,
               tr: float, events: pd.DataFrame) -> Path:
    """Write one run's ``_bold.nii.gz``, ``_bold.json`` and ``_events.tsv``.

    Parameters
    ----------
    root : Path
        The BIDS root.
    subject : str
        Subject label ("01").
    run : int
        1-based run number.
    data : ndarray, shape (n_frames, n_voxels)
        BOLD intensities of the in-mask voxels (zero outside).
    grid : VoxelGrid
    tr : float
        Seconds.
    events : pandas.DataFrame
        onset, duration, stimulus_id (written as trial_type).

    Returns
    -------
    Path
        The NIfTI file.
    """
    folder = root / f"sub-{subject}" / "func"
    folder.mkdir(parents=True, exist_ok=True)
    stem = run_stem(subject, run)
    img = nib.Nifti1Image(grid.to_volume(np.asarray(data, np.float32)), grid.mask.affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((*[grid.voxel_size] * 3, tr))
    path = folder / f"{stem}_bold.nii.gz"
    nib.save(img, path)
    write_json({"RepetitionTime": tr, "TaskName": TASK, "SliceEncodingDirection": "k"},
               folder / f"{stem}_bold.json")
    write_tsv(pd.DataFrame({"onset": events["onset"], "duration": events["duration"],
                            "trial_type": events["stimulus_id"]}),
              folder / f"{stem}_events.tsv")
    return path


def write_confounds(root: Path, subject: str, run: int, confounds: pd.DataFrame) -> Path:
    """Write ``derivatives/confounds/sub-XX/func/<run>_desc-confounds_timeseries.tsv``."""
    folder = root / CONFOUNDS / f"sub-{subject}" / "func"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_stem(subject, run)}_desc-confounds_timeseries.tsv"
    write_tsv(confounds.round(6), path)
    return path


def write_mask(root: Path, subject: str, grid: VoxelGrid) -> Path:
    """Write the subject's brain mask, ``derivatives/confounds/.../*_desc-brain_mask.nii.gz``."""
    folder = root / CONFOUNDS / f"sub-{subject}" / "func"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sub-{subject}_task-{TASK}_space-MNI152_desc-brain_mask.nii.gz"
    nib.save(grid.mask, path)
    return path


def write_fmri_description(root: Path, subjects: list[str]) -> None:
    """Write ``dataset_description.json``, the README and ``participants.tsv``."""
    write_description(root, "fMRI", DESCRIPTION)
    write_tsv(pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects]}),
              root / "participants.tsv")
