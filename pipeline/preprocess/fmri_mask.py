"""The brain mask of an fMRI study: from its derivatives, computed from the data, or MNI152.

``MASKS`` maps ``preprocess.fmri.mask`` to a function ``(raw_dir, runs, reference) -> mask``
returning a binary NIfTI on the grid of ``reference`` (the first run's volume):

- ``derivatives``: the intersection of every ``derivatives/**/*desc-brain_mask.nii[.gz]``
  (as fMRIPrep writes them, and the simulator);
- ``epi``: nilearn's ``compute_multi_epi_mask`` over the runs (a mask of the mean EPI);
- ``mni152``: nilearn's MNI152 brain mask (for data in MNI space);
- ``auto``: ``derivatives`` when the study has such a mask, else ``epi``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from pipeline.errors import DataError
from pipeline.registry import Registry

logger = logging.getLogger(__name__)

MASKS = Registry("fMRI mask")
MASK_PATTERN = "*desc-brain_mask.nii*"


def on_grid(img: nib.Nifti1Image, reference: nib.Nifti1Image) -> nib.Nifti1Image:
    """A binary mask on the reference grid (nearest-neighbour resampling if grids differ)."""
    if img.shape[:3] != reference.shape[:3] or not np.allclose(img.affine, reference.affine):
        from nilearn.image import resample_to_img  # nilearn imports in seconds: only when used

        img = resample_to_img(img, reference, interpolation="nearest",
                              force_resample=True, copy_header=True)
    data = np.asarray(img.dataobj)
    return nib.Nifti1Image((data > 0).astype(np.uint8), reference.affine)


def read_mask(path: Path, reference: nib.Nifti1Image) -> nib.Nifti1Image:
    """Read a mask NIfTI onto the reference grid.

    Raises
    ------
    DataError
        If the file is missing, unreadable, not 3-D or empty.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a brain mask NIfTI")
    try:
        img = nib.load(path)
        shape = img.shape
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise DataError(f"{path}: not a readable NIfTI ({exc})") from None
    if len(shape) != 3 and not (len(shape) == 4 and shape[3] == 1):
        raise DataError(f"{path}: mask of shape {shape}; expected a 3-D volume")
    mask = on_grid(nib.Nifti1Image(np.asarray(img.dataobj).reshape(shape[:3]), img.affine),
                   reference)
    if not np.asarray(mask.dataobj).any():
        raise DataError(f"{path}: the mask is empty on the data grid; expected brain voxels")
    return mask


def derivative_masks(raw_dir: Path) -> list[Path]:
    """The brain masks under ``raw_dir/derivatives`` (sorted)."""
    return sorted((Path(raw_dir) / "derivatives").rglob(MASK_PATTERN))


@MASKS.register("derivatives")
def mask_from_derivatives(raw_dir: Path, runs: list[Path], reference: nib.Nifti1Image
                          ) -> nib.Nifti1Image:
    """The intersection of the study's derivative brain masks.

    Raises
    ------
    DataError
        If ``derivatives/`` holds no ``*desc-brain_mask.nii[.gz]``.
    """
    paths = derivative_masks(raw_dir)
    if not paths:
        raise DataError(
            f"{Path(raw_dir) / 'derivatives'}: no {MASK_PATTERN}; expected a brain mask "
            "(or set preprocess.fmri.mask to epi or mni152)"
        )
    logger.info("mask: intersection of %d derivative mask(s)", len(paths))
    masks = [read_mask(path, reference) for path in paths]
    from nilearn.masking import intersect_masks

    return masks[0] if len(masks) == 1 else intersect_masks(masks, threshold=1.0, connected=False)


@MASKS.register("epi")
def mask_from_epi(raw_dir: Path, runs: list[Path], reference: nib.Nifti1Image
                  ) -> nib.Nifti1Image:
    """nilearn's EPI mask of every run, voxels in at least half of them."""
    from nilearn.masking import compute_multi_epi_mask

    logger.info("mask: computed from the mean EPI of %d run(s)", len(runs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty mask is reported below, as a DataError
        mask = on_grid(compute_multi_epi_mask([str(run) for run in runs], threshold=0.5),
                       reference)
    if not np.asarray(mask.dataobj).any():
        raise DataError(
            f"{Path(raw_dir)}: computed an empty EPI mask from {len(runs)} run(s) (e.g. "
            f"{runs[0].name}); expected brain signal, or set preprocess.fmri.mask_file"
        )
    return mask


@MASKS.register("mni152")
def mask_from_mni152(raw_dir: Path, runs: list[Path], reference: nib.Nifti1Image
                     ) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask, resampled to the data grid (data in MNI space)."""
    from nilearn.datasets import load_mni152_brain_mask

    logger.info("mask: MNI152 brain mask")
    return on_grid(load_mni152_brain_mask(resolution=2), reference)


@MASKS.register("auto")
def mask_auto(raw_dir: Path, runs: list[Path], reference: nib.Nifti1Image) -> nib.Nifti1Image:
    """``derivatives`` when the study ships a brain mask, else ``epi``."""
    chosen = "derivatives" if derivative_masks(raw_dir) else "epi"
    return MASKS.get(chosen)(raw_dir, runs, reference)
