"""A miniature Natural Scenes Dataset, written in the release's own layout and formats.

The folders, file names, MATLAB keys, CSV columns, NIfTI storage (int16 betas x 300, an ROI
with -1 outside the brain) and the HDF5 ``imgBrick`` are the release's; only the sizes are
small: a grid of a few voxels, 40 "73k" images of 16 x 16 pixels (425 x 425 in NSD), 10
images per subject of which 3 are shared, and 40 designed sessions of 12 trials (750 in
NSD), of which the first two have betas. Each trial's betas carry a response that depends
on its image, and one ROI voxel holds the image's 73k id / 2 exactly, so a test can read
back which image each trial showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

GRID = (6, 5, 4)
AFFINE = np.array([[1.8, 0.0, 0.0, -4.5], [0.0, 1.8, 0.0, -3.6],
                   [0.0, 0.0, 1.8, 2.7], [0.0, 0.0, 0.0, 1.0]])
N_IMAGES = 40  # the "73k" images
IMAGE_SIZE = 16  # pixels (425 in NSD)
SHARED = (3, 17, 29)  # 73k ids (1-based) every subject saw: the test split
OWN = {1: (5, 8, 11, 21, 24, 33, 38), 2: (2, 9, 14, 20, 27, 31, 36)}  # per subject number
TRIALS_PER_SESSION = 12
SESSIONS_IN_DESIGN = 40
SHOWINGS = (3, 3, 3, 3, 2, 2, 2, 2, 2, 2)  # times each subject image is shown in sessions 1-2
CODE_SCALE = 0.5  # percent signal change per 73k id at the code voxel
BETAS = "betas_fithrf_GLMdenoise_RR"


def roi_labels(grid: tuple[int, int, int]) -> np.ndarray:
    """The ROI volume as NSD stores it: -1 outside the brain, 0 outside the ROI, > 0 in it."""
    roi = np.zeros(grid, dtype=np.int16)
    roi[0] = -1
    roi[2:5, 1:4, 1:3] = 1
    roi[-1, -1, -1] = 2  # another label: still inside
    return roi


def code_voxel(grid: tuple[int, int, int]) -> tuple[int, int, int]:
    """The first ROI voxel in ``np.argwhere`` order: it holds the image's 73k id / 2."""
    return tuple(int(index) for index in np.argwhere(roi_labels(grid) > 0)[0])


@dataclass
class NsdMiniature:
    """What a test needs to know of the miniature release it reads back."""

    root: Path
    trials: dict[str, pd.DataFrame] = field(default_factory=dict)  # subject -> design trials
    betas: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # int16 as stored
    images: np.ndarray | None = None  # (N_IMAGES, 16, 16, 3) uint8, the imgBrick rows


def _brick(rng: np.random.Generator) -> np.ndarray:
    """Every 73k image different: a colour of its own and a bright square placed by its id."""
    brick = rng.integers(0, 60, (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.uint8)
    for index in range(N_IMAGES):
        corner = index % (IMAGE_SIZE - 4)
        brick[index, corner:corner + 4, corner:corner + 4] = 200 + index
    return brick


def _subjectim(rng: np.random.Generator) -> np.ndarray:
    """(8, 10) 1-based 73k ids: the shared images first, then each subject's own."""
    rows = []
    for number in range(1, 9):
        own = OWN.get(number) or tuple(rng.choice(
            sorted(set(range(1, N_IMAGES + 1)) - set(SHARED)), 7, replace=False))
        rows.append([*SHARED, *own])
    return np.array(rows, dtype=np.int64)


def _masterordering(rng: np.random.Generator) -> np.ndarray:
    """(480,) 1-based indices into a subject's 10 images; sessions 1-2 show SHOWINGS."""
    first = np.repeat(np.arange(1, 11), SHOWINGS)  # (24,)
    rest = rng.integers(1, 11, (SESSIONS_IN_DESIGN - 2) * TRIALS_PER_SESSION)
    return np.concatenate([rng.permutation(first), rest])


def _write_design(root: Path, masterordering: np.ndarray, subjectim: np.ndarray) -> None:
    from scipy.io import savemat

    folder = root / "nsddata" / "experiments" / "nsd"
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / "nsd_expdesign.mat", {  # MATLAB doubles, row vectors, as released
        "masterordering": masterordering[None, :].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": np.array(SHARED, dtype=np.float64)[None, :],
        "basiccnt": np.zeros((3, SESSIONS_IN_DESIGN)),
    })
    info = pd.DataFrame({"cocoId": 500000 + 7 * np.arange(N_IMAGES),
                         "cocoSplit": "train2017", "nsdId": np.arange(N_IMAGES),
                         "shared1000": np.isin(np.arange(1, N_IMAGES + 1), SHARED)})
    info.to_csv(folder / "nsd_stim_info_merged.csv")  # with the unnamed index column


def _write_images(root: Path, brick: np.ndarray) -> None:
    import h5py

    folder = root / "nsddata_stimuli" / "stimuli" / "nsd"
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / "nsd_stimuli.hdf5", "w") as store:
        store.create_dataset("imgBrick", data=brick)


def _session_betas(images: np.ndarray, codes: dict[int, np.ndarray], grid: tuple[int, ...],
                   rng: np.random.Generator) -> np.ndarray:
    """int16 betas x 300, (x, y, z, trials): a response to each image's code, plus noise."""
    n_voxels = int(np.prod(grid))
    mixing = np.random.default_rng(7).standard_normal((n_voxels, 3))  # (V, 3), fixed
    response = np.stack([mixing @ codes[int(image)] for image in images], axis=-1)  # (V, T)
    betas = (response + 0.3 * rng.standard_normal(response.shape)).reshape(*grid, len(images))
    betas[code_voxel(grid)] = CODE_SCALE * images
    return np.round(betas * 300).astype(np.int16)


def write_nsd(root: Path, subjects: dict[str, tuple[int, int, int]] | None = None,
              sessions: tuple[int, ...] = (1, 2), seed: int = 0) -> NsdMiniature:
    """Write a miniature NSD release into ``root`` (the folder that holds ``nsddata/``).

    Parameters
    ----------
    root : Path
        Where to write ``nsddata/``, ``nsddata_betas/`` and ``nsddata_stimuli/``.
    subjects : dict, optional
        Subject (``"01"``) -> its grid; default subj01 on ``GRID``. NSD subjects each have
        their own native grid.
    sessions : tuple of int
        The sessions with betas files (of the 40 designed).
    seed : int
        Seed of the design, images and noise.

    Returns
    -------
    NsdMiniature
        The root, each subject's designed trials (session, trial 0-based, 73k id), the
        int16 betas as stored, and the images.
    """
    import nibabel as nib

    rng = np.random.default_rng(seed)
    subjects = subjects or {"01": GRID}
    brick, subjectim, ordering = _brick(rng), _subjectim(rng), _masterordering(rng)
    _write_design(root, ordering, subjectim)
    _write_images(root, brick)
    codes = {image: rng.standard_normal(3) for image in range(1, N_IMAGES + 1)}
    miniature = NsdMiniature(root, images=brick)
    for subject, grid in subjects.items():
        shown = subjectim[int(subject) - 1][ordering - 1]  # (480,) 73k ids, trial by trial
        position = np.arange(len(shown))
        miniature.trials[subject] = pd.DataFrame({
            "session": position // TRIALS_PER_SESSION + 1,
            "trial": position % TRIALS_PER_SESSION, "image": shown})
        anatomy = root / "nsddata" / "ppdata" / f"subj{subject}" / "func1pt8mm" / "roi"
        anatomy.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(roi_labels(grid), AFFINE), anatomy / "nsdgeneral.nii.gz")
        folder = root / "nsddata_betas" / "ppdata" / f"subj{subject}" / "func1pt8mm" / BETAS
        folder.mkdir(parents=True, exist_ok=True)
        for session in sessions:
            images = shown[(session - 1) * TRIALS_PER_SESSION:session * TRIALS_PER_SESSION]
            betas = _session_betas(images, codes, grid, rng)
            miniature.betas[subject, session] = betas
            image = nib.Nifti1Image(betas, AFFINE)
            image.header.set_data_dtype(np.int16)
            nib.save(image, folder / f"betas_session{session:02d}.nii.gz")
    return miniature
