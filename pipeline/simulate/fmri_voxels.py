"""Voxels of the simulated fMRI study and the spatial maps of its responses.

Voxels are the grid points of nilearn's MNI152 brain mask resampled to an isotropic grid of
``fmri.voxel_size`` mm. Each response component (one per readout of
:mod:`pipeline.simulate.responses`) has a smooth spatial map: a sum of Gaussian blobs of
``fmri.blob_fwhm`` whose centres lie in occipito-temporal cortex (``REGION``); each subject's
blobs are displaced by ``fmri.map_jitter`` mm, as after imperfect normalisation to MNI.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy.ndimage import gaussian_filter

REGION = {"y": (-100.0, -40.0), "z": (-30.0, 20.0)}  # MNI mm: occipito-temporal cortex
FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


@dataclass(frozen=True)
class VoxelGrid:
    """The in-brain voxels of the simulated study.

    Attributes
    ----------
    mask : nibabel.Nifti1Image
        The binary (uint8) brain mask on the grid.
    ijk : ndarray of int, shape (n_voxels, 3)
        Grid indices of the voxels (C order of ``np.argwhere``, as nilearn's apply_mask).
    xyz : ndarray, shape (n_voxels, 3)
        MNI coordinates (mm).
    region : ndarray of bool, shape (n_voxels,)
        Voxels in occipito-temporal cortex (``REGION``).
    """

    mask: nib.Nifti1Image
    ijk: np.ndarray
    xyz: np.ndarray
    region: np.ndarray

    @property
    def voxel_size(self) -> float:
        """Edge of a voxel (mm)."""
        return float(abs(self.mask.affine[0, 0]))

    def to_volume(self, values: np.ndarray) -> np.ndarray:
        """Put voxel values (..., V) into the grid: returns (x, y, z, ...) with zeros outside."""
        values = np.asarray(values)
        volume = np.zeros((*self.mask.shape[:3], *values.shape[:-1]), dtype=values.dtype)
        volume[tuple(self.ijk.T)] = np.moveaxis(values, -1, 0)
        return volume


def make_grid(voxel_size: float) -> VoxelGrid:
    """Resample nilearn's MNI152 brain mask to ``voxel_size`` mm (voxels at least half in).

    Parameters
    ----------
    voxel_size : float
        Isotropic voxel edge (mm).

    Returns
    -------
    VoxelGrid
    """
    from nilearn.datasets import load_mni152_brain_mask  # nilearn imports in seconds
    from nilearn.image import resample_img

    template = load_mni152_brain_mask(resolution=2)
    fraction = nib.Nifti1Image(np.asarray(template.dataobj, np.float32), template.affine)
    with warnings.catch_warnings():  # interpolating a binary mask gives the fraction inside
        warnings.filterwarnings("ignore", "Resampling binary images", UserWarning)
        resampled = resample_img(
            fraction, target_affine=np.diag([voxel_size] * 3), interpolation="continuous",
            force_resample=True, copy_header=True,
        )
    inside = np.asarray(resampled.dataobj) > 0.5
    mask = nib.Nifti1Image(inside.astype(np.uint8), resampled.affine)
    mask.header.set_xyzt_units("mm", "sec")
    ijk = np.argwhere(inside)
    xyz = nib.affines.apply_affine(resampled.affine, ijk)
    region = ((xyz[:, 1] >= REGION["y"][0]) & (xyz[:, 1] <= REGION["y"][1])
              & (xyz[:, 2] >= REGION["z"][0]) & (xyz[:, 2] <= REGION["z"][1]))
    return VoxelGrid(mask, ijk, xyz, region)


def draw_blobs(grid: VoxelGrid, n_maps: int, n_blobs: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Blob centres in the occipito-temporal region and their signed weights.

    Returns
    -------
    centres : ndarray, shape (n_maps, n_blobs, 3)
        MNI mm: region voxels, displaced uniformly within a voxel.
    weights : ndarray, shape (n_maps, n_blobs)
        Standard normal.
    """
    candidates = grid.xyz[grid.region]  # (R, 3)
    picks = rng.integers(len(candidates), size=(n_maps, n_blobs))
    offsets = rng.uniform(-0.5, 0.5, size=(n_maps, n_blobs, 3)) * grid.voxel_size
    return candidates[picks] + offsets, rng.standard_normal((n_maps, n_blobs))


def blob_maps(grid: VoxelGrid, centres: np.ndarray, weights: np.ndarray, fwhm: float
              ) -> np.ndarray:
    """Sum of weighted Gaussian blobs at every voxel.

    Parameters
    ----------
    grid : VoxelGrid
    centres : ndarray, shape (n_maps, n_blobs, 3)
    weights : ndarray, shape (n_maps, n_blobs)
    fwhm : float
        Blob full width at half maximum (mm).

    Returns
    -------
    ndarray, shape (n_maps, n_voxels)
    """
    sigma = fwhm * FWHM_TO_SIGMA
    maps = np.zeros((len(centres), len(grid.xyz)))
    for blob in range(centres.shape[1]):
        distance2 = ((grid.xyz[None, :, :] - centres[:, blob, None, :]) ** 2).sum(-1)  # (M, V)
        maps += weights[:, blob, None] * np.exp(-0.5 * distance2 / sigma**2)
    return maps


def smooth_fields(grid: VoxelGrid, n_fields: int, fwhm: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Smooth Gaussian random fields in the brain, each of unit RMS over the voxels.

    Returns
    -------
    ndarray, shape (n_fields, n_voxels)
    """
    sigma = fwhm * FWHM_TO_SIGMA / grid.voxel_size
    fields = []
    for _ in range(n_fields):
        volume = gaussian_filter(rng.standard_normal(grid.mask.shape[:3]), sigma)
        values = volume[tuple(grid.ijk.T)]  # (V,)
        fields.append(values / np.sqrt(np.mean(values**2)))
    return np.asarray(fields).reshape(n_fields, len(grid.ijk))
