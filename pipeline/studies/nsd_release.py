"""Read the Natural Scenes Dataset's release files: the design, the COCO ids, betas, ROIs.

Every index in ``nsd_expdesign.mat`` is 1-based, as MATLAB stores it; the betas are int16,
percent signal change x ``BETA_SCALE``, read ``CHUNK_BYTES`` at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import nibabel as nib

logger = logging.getLogger(__name__)

OPTION = "study.options.nsd"
DESIGN = Path("nsddata", "experiments", "nsd", "nsd_expdesign.mat")
DESIGN_KEYS = ("masterordering", "subjectim", "sharedix")
STIM_INFO = Path("nsddata", "experiments", "nsd", "nsd_stim_info_merged.csv")
SESSIONS_IN_DESIGN = 40  # masterordering covers 40 sessions (of 750 trials in the release)
BETA_SCALE = 300.0  # the release stores betas x 300 as int16 (percent signal change)
CHUNK_BYTES = 256 * 2**20  # float32 betas converted at a time


def stimulus_id(image: int) -> str:
    """The stimulus id of a 73k image id (1-based): ``2951`` -> ``nsd02951``."""
    return f"nsd{int(image):05d}"


@dataclass(frozen=True)
class NsdDesign:
    """The design of ``nsd_expdesign.mat``, its indices 1-based as MATLAB stores them.

    Attributes
    ----------
    masterordering : ndarray, shape (n_trials,)
        Trial by trial over every session, the index (1-based) of a subject's image.
    subjectim : ndarray, shape (n_subjects, n_subject_images)
        Each subject's images as 73k ids (1-based).
    sharedix : ndarray, shape (n_shared,)
        The 73k ids (1-based) of the images every subject saw.
    """

    masterordering: np.ndarray
    subjectim: np.ndarray
    sharedix: np.ndarray

    @property
    def trials_per_session(self) -> int:
        """Trials of one session (750 in the release)."""
        return len(self.masterordering) // SESSIONS_IN_DESIGN

    def subject_images(self, subject: str) -> np.ndarray:
        """The 73k ids of subject ``01``...: a row of ``subjectim``."""
        return self.subjectim[int(subject) - 1]

    def subject_trials(self, subject: str) -> pd.DataFrame:
        """Every trial of the design for ``subject``, in order.

        Returns
        -------
        pandas.DataFrame
            ``session`` (1-based), ``trial`` (0-based within the session: the volume of
            its betas file), ``image`` (73k id) and ``repetition`` (earlier showings).
        """
        images = self.subject_images(subject)[self.masterordering - 1]  # (n_trials,)
        order = np.arange(len(images))
        table = pd.DataFrame({"session": order // self.trials_per_session + 1,
                              "trial": order % self.trials_per_session, "image": images})
        table["repetition"] = table.groupby("image").cumcount()
        return table


def _vector(saved: dict[str, Any], key: str, path: Path, expected: str) -> np.ndarray:
    """A 1 x n (or n x 1) MATLAB array as integers (n,), else a DataError naming it."""
    array = np.asarray(saved[key])
    if array.ndim != 2 or min(array.shape) != 1 or array.size == 0:
        raise DataError(f"{path}: {key} of shape {array.shape}; expected {expected}")
    return array.astype(np.int64).ravel()


def read_design(path: Path) -> NsdDesign:
    """Read ``nsd_expdesign.mat`` (MATLAB v5) and check its shapes and index ranges.

    Raises
    ------
    DataError
        If the file is unreadable, lacks a key of ``DESIGN_KEYS``, an array has the wrong
        shape, or an index points outside the array it indexes.
    """
    from scipy.io import loadmat

    try:
        saved = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable MATLAB v5 file ({exc}); expected the NSD "
                        "experimental design") from None
    missing = [key for key in DESIGN_KEYS if key not in saved]
    if missing:
        raise DataError(f"{path}: no {', '.join(missing)}; expected the keys {DESIGN_KEYS}")
    ordering = _vector(saved, "masterordering", path,
                       f"1 x ({SESSIONS_IN_DESIGN} sessions x trials), 1 x 30000 in NSD")
    subjectim = np.asarray(saved["subjectim"])
    if subjectim.ndim != 2 or subjectim.size == 0:
        raise DataError(f"{path}: subjectim of shape {subjectim.shape}; expected (subjects, "
                        "images of each), 8 x 10000 in NSD")
    shared = _vector(saved, "sharedix", path, "1 x shared images, 1 x 1000 in NSD")
    if len(ordering) % SESSIONS_IN_DESIGN:
        raise DataError(f"{path}: masterordering of {len(ordering)} trials; expected "
                        f"{SESSIONS_IN_DESIGN} sessions of equal length (1 x 30000 in NSD)")
    n_images = subjectim.shape[1]
    if ordering.min() < 1 or ordering.max() > n_images:
        raise DataError(f"{path}: masterordering holds {ordering.min()} to {ordering.max()}; "
                        f"expected 1-based indices 1 to {n_images} into subjectim's columns")
    subjectim = subjectim.astype(np.int64)
    if subjectim.min() < 1 or shared.min() < 1:
        raise DataError(f"{path}: subjectim or sharedix holds values below 1; expected "
                        "1-based 73k image ids")
    return NsdDesign(ordering, subjectim, shared)


def read_coco_ids(path: Path) -> pd.Series:
    """The COCO id of every 73k image (index: 1-based 73k id) from the stimulus info CSV.

    Raises
    ------
    DataError
        If the file is missing or lacks ``nsdId`` or ``cocoId``.
    """
    from pipeline.io import read_tsv

    table = read_tsv(path, required=["nsdId", "cocoId"], sep=",")
    return pd.Series(table["cocoId"].to_numpy(), index=table["nsdId"].to_numpy() + 1)


def open_release_betas(path: Path, n_trials: int) -> nib.Nifti1Image:
    """Open a session of the release's betas lazily; check its shape and int16 storage.

    Raises
    ------
    DataError
        If it is unreadable, not (x, y, z, ``n_trials``), or not unscaled int16.
    """
    import nibabel as nib

    from pipeline.read_errors import reading

    with reading(path, "NSD betas file"):
        img = nib.load(path, keep_file_open=True)  # one stream, read forward chunk by chunk
        shape = img.shape
    if len(shape) != 4 or shape[3] != n_trials:
        raise DataError(f"{path}: shape {shape}; expected (x, y, z, {n_trials} trials), the "
                        "trials of a session in nsd_expdesign.mat's masterordering")
    dtype, slope, inter = img.get_data_dtype(), img.dataobj.slope, img.dataobj.inter
    if dtype != np.int16 or slope != 1 or inter != 0:
        raise DataError(f"{path}: {dtype} data, scaling {slope} x + {inter}; expected unscaled "
                        f"int16 betas x {BETA_SCALE:g}, as NSD releases them")
    return img


def read_roi(path: Path, grid: nib.Nifti1Image) -> np.ndarray:
    """The voxels of an ROI file (values > 0) on the betas grid.

    Raises
    ------
    DataError
        If the file is missing or unreadable, its shape differs from the grid's, or it
        holds no voxel > 0.
    """
    import nibabel as nib

    from pipeline.read_errors import reading

    if not path.is_file():
        raise DataError(f"{path}: file not found; expected the ROI ({OPTION}.roi) on the "
                        f"grid of {Path(grid.get_filename()).name}")
    with reading(path, "ROI file"):
        img = nib.load(path)
        data = np.asarray(img.dataobj)
    if data.shape != grid.shape[:3]:
        raise DataError(f"{path}: shape {data.shape}; expected {grid.shape[:3]}, the grid of "
                        f"{grid.get_filename()}")
    if not np.allclose(img.affine, grid.affine, atol=1e-3):
        logger.warning("%s: affine differs from the betas'; the betas' is kept", path.name)
    inside = data > 0  # (x, y, z); the release marks voxels outside the brain -1
    if not inside.any():
        raise DataError(f"{path}: no voxel > 0; expected the ROI's voxels labelled above 0")
    return inside


def percent_change(img: nib.Nifti1Image, inside: np.ndarray) -> Iterable[np.ndarray]:
    """The release's betas of one session, ``CHUNK_BYTES`` at most at a time: float32
    percent signal change, zero outside ``inside``; each chunk is (x, y, z, k trials).

    A session of whole-brain volumes (2 GB as float32 at 1.8 mm) never sits in memory.
    """
    scale, n_trials = np.float32(BETA_SCALE), img.shape[3]
    step = max(1, CHUNK_BYTES // (4 * int(np.prod(img.shape[:3]))))
    for start in range(0, n_trials, step):
        chunk = np.asarray(img.dataobj[..., start:start + step])  # (x, y, z, k) int16
        yield np.where(inside[..., None], chunk.astype(np.float32) / scale, np.float32(0))


def write_float_series(path: Path, header: nib.Nifti1Header, chunks: Iterable[np.ndarray]
                       ) -> None:
    """Write a 4-D float32 NIfTI from chunks of volumes, in order, never all in memory.

    The header (grid, affine, units) is ``header``'s with a float32 data type; the file is
    gzipped as nibabel does it (no time stamp, so the same data give the same bytes).
    """
    from nibabel.openers import Opener

    header = header.copy()
    header.set_data_dtype(np.float32)
    header.set_slope_inter(1.0, 0.0)
    header["vox_offset"] = 0  # recomputed on writing
    header["cal_min"], header["cal_max"] = 0, 0
    dtype = header.get_data_dtype()
    with Opener(str(path), "wb") as stream:
        header.write_to(stream)
        stream.write(bytes(int(header.get_data_offset()) - stream.tell()))
        for chunk in chunks:
            stream.write(np.asarray(chunk, dtype=dtype).tobytes(order="F"))
