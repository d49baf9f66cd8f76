"""Haxby et al. (2001): 8 object categories viewed in blocks, one fMRI slice of subject 1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import write_json, write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.local_data import locate_data

if TYPE_CHECKING:
    import nibabel as nib

logger = logging.getLogger(__name__)

FILES = ("bold.nii.gz", "mask.nii.gz", "attributes_literal.txt")
SUBJECT = "1"
TASK = "objectviewing"
REST = "rest"
TR = 2.5  # seconds, as in the NIfTI header
MASKS = Path("derivatives", "masks")  # a BIDS derivative dataset
MASK = MASKS / f"sub-{SUBJECT}" / "func" / f"sub-{SUBJECT}_task-{TASK}_desc-vt_mask.nii.gz"
CAPTIONS = {
    "bottle": "a photograph of a bottle",
    "cat": "a photograph of a cat",
    "chair": "a photograph of a chair",
    "face": "a photograph of a human face",
    "house": "a photograph of a house",
    "scissors": "a photograph of a pair of scissors",
    "scrambledpix": "a scrambled image of random pixels",
    "shoe": "a photograph of a shoe",
}
README = """\
# Haxby et al. (2001), one axial slice of subject 1 (brainrecon excerpt)

Passive viewing of grey-scale photographs of 8 object categories (bottle, cat, chair, face,
house, scissors, scrambled pictures, shoe) in 12 runs of 121 volumes (TR 2.5 s), one block
of 9 volumes per category and run, rest between blocks. This excerpt is one axial slice
(40 x 20 voxels) as distributed with PyMVPA; derivatives/masks/ holds the 530-voxel
ventral-temporal mask of the original study. Events: one per block, trial_type = category.
Converted to BIDS by brainrecon's `haxby2001` study.

Licence: Creative Commons Attribution-ShareAlike 3.0 (CC BY-SA 3.0); keep this attribution
with any derived data or figure. Cite:
Haxby, J. V., Gobbini, M. I., Furey, M. L., Ishai, A., Schouten, J. L., Pietrini, P. (2001).
Distributed and overlapping representations of faces and objects in ventral temporal cortex.
Science 293(5539):2425-2430.
"""


class Haxby2001Options(Section):
    """``study.options.haxby2001``: the folder of the PyMVPA slice."""

    path: str = Field(
        "../shared/data/haxby2001_slice",
        description="folder with bold.nii.gz, mask.nii.gz and attributes_literal.txt, "
        "relative to the project root",
    )


def read_attributes(path: Path, n_volumes: int) -> pd.DataFrame:
    """Read ``attributes_literal.txt``: one ``label run`` line per volume.

    Returns
    -------
    pandas.DataFrame
        Columns ``label`` (str) and ``run`` (int), one row per volume.

    Raises
    ------
    DataError
        If a line is malformed or the number of lines differs from ``n_volumes``.
    """
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    bad = [number for number, row in enumerate(rows, start=1)
           if len(row) != 2 or not row[1].isdigit()]
    if bad:
        raise DataError(f"{path}: line {bad[0]} is not '<label> <run>'; expected one per volume")
    if len(rows) != n_volumes:
        raise DataError(f"{path}: {len(rows)} lines; expected one per volume ({n_volumes})")
    table = pd.DataFrame(rows, columns=["label", "run"])
    return table.astype({"run": int})


def block_events(labels: pd.Series, tr: float) -> pd.DataFrame:
    """Return the blocks of one run: consecutive volumes with the same label, rest left out.

    Parameters
    ----------
    labels : pandas.Series
        The label of each volume of the run, in acquisition order.
    tr : float
        Seconds between volumes.

    Returns
    -------
    pandas.DataFrame
        Columns ``onset`` (start of the block's first volume, s), ``duration`` (s) and
        ``trial_type`` (the category).
    """
    values = labels.to_numpy(dtype=str)  # (n_volumes,)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])  # (n_segments,)
    lengths = np.diff(np.r_[starts, len(values)])  # (n_segments,)
    blocks = pd.DataFrame({
        "onset": starts * tr,
        "duration": lengths * tr,
        "trial_type": values[starts],
    })
    return blocks[blocks["trial_type"] != REST].reset_index(drop=True)


def _check_shapes(bold: nib.Nifti1Image, mask: nib.Nifti1Image, folder: Path) -> None:
    """Raise DataError unless bold is 4-D with TR 2.5 s and the mask matches its grid."""
    if bold.ndim != 4 or mask.shape != bold.shape[:3]:
        raise DataError(
            f"{folder / 'bold.nii.gz'}: shape {bold.shape} and mask {mask.shape}; expected a "
            "4-D series and a 3-D mask on the same grid"
        )
    tr = float(bold.header.get_zooms()[3])
    if not np.isclose(tr, TR):
        raise DataError(f"{folder / 'bold.nii.gz'}: TR {tr:g} s in the header; expected {TR:g}")


def _run_image(bold: nib.Nifti1Image, series: np.ndarray, volumes: np.ndarray
               ) -> nib.Nifti1Image:
    """The ``volumes`` of ``series`` (x, y, z, t) as a 4-D image with bold's header (TR)."""
    data = series[..., volumes]  # (x, y, z, n_run_volumes)
    image = type(bold)(data, bold.affine, header=bold.header.copy())
    image.header.set_xyzt_units("mm", "sec")
    return image


@STUDIES.register("haxby2001")
class Haxby2001Study:
    """8-category object viewing, 12 runs of one fMRI slice, with a ventral-temporal mask."""

    options = Haxby2001Options

    def generate(self, options: Haxby2001Options, out_dir: Path) -> None:
        """Write 12 BIDS func runs (bold, events, sidecar), the mask, stimuli and README.

        Raises
        ------
        DataError
            If the folder or a file is missing, corrupt, or inconsistent with the others.
        """
        import nibabel as nib  # imported when generating, not when params are validated

        folder = locate_data(options.path, FILES, "the PyMVPA slice of Haxby et al. (2001)",
                             "study.options.haxby2001.path")
        try:
            bold, mask = nib.load(folder / FILES[0]), nib.load(folder / FILES[1])
        except (OSError, nib.filebasedimages.ImageFileError) as exc:
            raise DataError(f"{folder}: cannot read the NIfTI images ({exc})") from None
        _check_shapes(bold, mask, folder)
        attributes = read_attributes(folder / FILES[2], bold.shape[3])
        unknown = sorted(set(attributes["label"]) - set(CAPTIONS) - {REST})
        if unknown:
            raise DataError(f"{folder / FILES[2]}: labels {unknown}; expected {sorted(CAPTIONS)}")

        out_dir = Path(out_dir)
        func = out_dir / f"sub-{SUBJECT}" / "func"
        func.mkdir(parents=True, exist_ok=True)
        series = np.asarray(bold.dataobj)  # (x, y, z, n_volumes), the stored integers
        for run, volumes in attributes.groupby("run").groups.items():
            stem = f"sub-{SUBJECT}_task-{TASK}_run-{run + 1:02d}"
            nib.save(_run_image(bold, series, np.asarray(volumes)), func / f"{stem}_bold.nii.gz")
            write_json({"RepetitionTime": TR, "TaskName": TASK}, func / f"{stem}_bold.json")
            events = block_events(attributes.loc[volumes, "label"], TR)
            write_tsv(events, func / f"{stem}_events.tsv")
            logger.info("run %d: %d volumes, %d blocks", run + 1, len(volumes), len(events))

        (out_dir / MASK).parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image((np.asarray(mask.dataobj) > 0).astype(np.uint8), mask.affine),
                 out_dir / MASK)
        write_json({"Name": "ventral-temporal mask (Haxby et al. 2001)", "BIDSVersion": "1.9.0",
                    "DatasetType": "derivative", "GeneratedBy": [{"Name": "brainrecon"}]},
                   out_dir / MASKS / "dataset_description.json")
        write_json({"Name": "Haxby et al. (2001), one slice of subject 1", "BIDSVersion": "1.9.0",
                    "DatasetType": "raw", "License": "CC BY-SA 3.0",
                    "Authors": ["James V. Haxby", "M. Ida Gobbini", "Maura L. Furey",
                                "Alumit Ishai", "Jennifer L. Schouten", "Pietro Pietrini"],
                    "ReferencesAndLinks": ["https://doi.org/10.1126/science.1063736"]},
                   out_dir / "dataset_description.json")
        (out_dir / "README").write_text(README)
        (out_dir / "stimuli").mkdir(exist_ok=True)
        write_tsv(pd.DataFrame({
            "stimulus_id": list(CAPTIONS),
            "split": "train",  # class-level study: every category is in every fold
            "image": "n/a",
            "caption": list(CAPTIONS.values()),
        }), out_dir / "stimuli" / "stimuli.tsv")
