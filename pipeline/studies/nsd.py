"""The Natural Scenes Dataset (Allen et al. 2022): 7T fMRI of 8 subjects viewing COCO images.

Read from a local copy of the release (never downloaded): ``study.options.nsd.root`` is the
folder that holds ``nsddata/``, ``nsddata_betas/`` and ``nsddata_stimuli/``::

    nsddata/experiments/nsd/nsd_expdesign.mat         # masterordering (1 x 30000), subjectim
                                                      #   (8 x 10000), sharedix (1 x 1000)
    nsddata/experiments/nsd/nsd_stim_info_merged.csv  # one row per 73k image: nsdId, cocoId
    nsddata/ppdata/subj01/func1pt8mm/roi/nsdgeneral.nii.gz    # > 0 inside, -1 outside brain
    nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.nii.gz
    nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5      # imgBrick (73000, 425, 425, 3) uint8

Trial ``t`` (1-based) of session ``s`` shows, to subject ``n``, the 73k image
``subjectim[n - 1, masterordering[(s - 1) * 750 + t - 1] - 1]`` (every index 1-based, as
MATLAB stores them); its stimulus id is ``nsd<73k id, 5 digits>`` (``nsd02951``), as NSD
names its image files. The 1000 shared images (``sharedix``) are the test split; the
subjects' other images are train or val, drawn by image (seed 0), so every repetition of an
image is in one split. Each trial is one row; its repetition counts the earlier showings of
its image to the subject in the whole design.

The study writes one file of betas per session, as float32 percent signal change (the
release's int16 divided by 300), zero outside the ROI, on the release's grid and affine::

    sub-01/betas/sub-01_ses-01_desc-betasfithrfGLMdenoiseRR_betas.nii.gz  # x, y, z, trial
    sub-01/betas/sub-01_ses-01_desc-betasfithrfGLMdenoiseRR_betas.json    # sidecar
    sub-01/betas/sub-01_ses-01_desc-betasfithrfGLMdenoiseRR_events.tsv    # trial, stimulus_id
    sub-01/betas/sub-01_desc-nsdgeneral_mask.nii.gz                       # the ROI, 0/1
    stimuli/stimuli.tsv, stimuli/images/nsd02951.png ...                  # images shown
    dataset_description.json, README                                      # terms, citation

read by the ``betas`` preprocessing pipeline (:mod:`pipeline.preprocess.betas`). Subjects
are each in their own native space: a study holds one subject, or subjects on one grid.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, Field, field_validator

from pipeline.config import Section
from pipeline.errors import DataError, ParamsError
from pipeline.io import write_json, write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.nsd_release import (
    DESIGN,
    OPTION,
    SESSIONS_IN_DESIGN,
    STIM_INFO,
    NsdDesign,
    open_release_betas,
    percent_change,
    read_coco_ids,
    read_design,
    read_roi,
    stimulus_id,
    write_float_series,
)

if TYPE_CHECKING:
    import nibabel as nib

logger = logging.getLogger(__name__)

IMAGES = Path("nsddata_stimuli", "stimuli", "nsd", "nsd_stimuli.hdf5")
IMAGE_DATASET = "imgBrick"
BETAS_FOLDER = "nsddata_betas/ppdata/subj{subject}/{resolution}/{betas}"
ROI_FILE = "nsddata/ppdata/subj{subject}/{resolution}/roi/{roi}.nii.gz"
SESSION_FILE = re.compile(r"^betas_session(\d{2})\.nii\.gz$")
PREPARATION_TR = {"func1pt8mm": 4.0 / 3.0, "func1mm": 1.0}  # s, series the betas were fit on
TRIAL_SECONDS, STIMULUS_SECONDS = 4.0, 3.0  # each trial: 3 s image, 1 s gap
IMAGE_FOLDER = "images"
DESCRIPTION = {
    "Name": "Natural Scenes Dataset (Allen et al. 2022), single-trial betas",
    "BIDSVersion": "1.9.0",
    "DatasetType": "raw",
    "License": "NSD Terms and Conditions (non-commercial research); COCO images under "
               "their own terms",
    "Authors": ["Emily J. Allen", "Ghislain St-Yves", "Yihan Wu", "Jesse L. Breedlove",
                "Jacob S. Prince", "Logan T. Dowdle", "Matthias Nau", "Brad Caron",
                "Franco Pestilli", "Ian Charest", "J. Benjamin Hutchinson", "Thomas Naselaris",
                "Kendrick Kay"],
    "ReferencesAndLinks": ["https://doi.org/10.1038/s41593-021-00962-x",
                           "https://doi.org/10.48550/arXiv.1405.0312 (COCO images)",
                           "https://naturalscenesdataset.org (terms and conditions)"],
}
README = """\
# Natural Scenes Dataset (NSD), single-trial betas (brainrecon excerpt)

7T fMRI of subjects viewing natural scenes from Microsoft COCO, 3 s each, up to 3 times
each, in sessions of 750 trials. Each sub-*/betas/ file holds one session's single-trial
GLM betas (percent signal change, zero outside the ROI mask beside it) on the release's
grid; its events.tsv names the image of every volume. stimuli/ holds the images shown;
the 1000 images shared by every subject are the test split. Converted by brainrecon's
`nsd` study from a local copy of the release.

Use is governed by the NSD Terms and Conditions (non-commercial research); the images
remain under the terms of COCO and Flickr. Cite:
Allen, E. J., St-Yves, G., Wu, Y., Breedlove, J. L., Prince, J. S., Dowdle, L. T., Nau, M.,
Caron, B., Pestilli, F., Charest, I., Hutchinson, J. B., Naselaris, T., Kay, K. (2022).
A massive 7T fMRI dataset to bridge cognitive neuroscience and artificial intelligence.
Nature Neuroscience 25:116-126. https://doi.org/10.1038/s41593-021-00962-x
Lin, T.-Y. et al. (2014). Microsoft COCO: Common Objects in Context. ECCV.
https://doi.org/10.48550/arXiv.1405.0312
"""


def _subject_number(value: Any) -> Any:
    """Read a subject as two digits: ``1``, ``"1"``, ``"01"`` or ``"subj01"`` -> ``"01"``."""
    text = str(value).removeprefix("subj") if not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"got {value!r}; expected a subject number such as 01 (subj01)")
    return f"{int(text):02d}"


Subject = Annotated[str, BeforeValidator(_subject_number)]
Session = Annotated[int, Field(ge=1, le=SESSIONS_IN_DESIGN)]


class NsdOptions(Section):
    """``study.options.nsd``: the release folder and what to take from it."""

    root: str = Field(description="the folder holding nsddata/, nsddata_betas/ and "
                                  "nsddata_stimuli/, relative to the project root")
    subjects: list[Subject] = Field(["01"], min_length=1, description="subject numbers: 01 "
                                    "is subj01; subjects in native space need one study each")
    sessions: list[Session] | None = Field(None, min_length=1, description="session numbers "
                                           "(betas_sessionNN); None: every one found")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="of the subjects' non-shared "
                                "images, drawn by image for validation, seed 0")
    resolution: Literal["func1pt8mm", "func1mm"] = Field(
        "func1pt8mm", description="the volume preparation of the betas and the ROI")
    betas: Literal["betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR"] = Field(
        "betas_fithrf_GLMdenoise_RR", description="the GLM version of the release")
    roi: str = Field("nsdgeneral", pattern=r"^[A-Za-z0-9._-]+$", description="an ROI file "
                     "of nsddata/ppdata/subjNN/<resolution>/roi/ without .nii.gz; voxels > 0 "
                     "are kept")

    @field_validator("subjects", "sessions")
    @classmethod
    def _distinct(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and len(set(value)) < len(value):
            raise ValueError(f"got {value}; expected each one once")
        return value


def release_root(path: str) -> Path:
    """The release folder, resolved, after checking it holds the design file.

    Raises
    ------
    DataError
        If the folder or ``nsddata/experiments/nsd/nsd_expdesign.mat`` is missing.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise DataError(f"{root}: not a folder ({OPTION}.root); expected the NSD release with "
                        "nsddata/, nsddata_betas/ and nsddata_stimuli/ (real recordings are "
                        "never downloaded, see docs/datasets.md)")
    return root


def release_file(root: Path, relative: Path | str, what: str) -> Path:
    """``root / relative`` after checking it is a file, else a DataError naming it."""
    path = root / relative
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected {what} of the NSD release layout "
                        f"({OPTION}.root is the folder holding nsddata/)")
    return path


def check_subjects(root: Path, options: NsdOptions, design: NsdDesign) -> None:
    """Check every selected subject is in the design and has the betas of the options.

    Raises
    ------
    ParamsError
        If a subject is not found; the message lists those that are.
    """
    pattern = BETAS_FOLDER.format(subject="*", resolution=options.resolution,
                                  betas=options.betas)
    found = sorted(folder.parts[-3].removeprefix("subj") for folder in root.glob(pattern)
                   if folder.is_dir())
    found = [subject for subject in found
             if subject.isdigit() and 1 <= int(subject) <= design.subjectim.shape[0]]
    unknown = [subject for subject in options.subjects if subject not in found]
    if unknown:
        raise ParamsError(f"{OPTION}.subjects: got {', '.join(unknown)}; expected subjects "
                          f"with {pattern.replace('*', '<NN>')} under {root}: "
                          f"{', '.join(found) or 'none'}")


def select_sessions(folder: Path, wanted: list[int] | None) -> dict[int, Path]:
    """The session files ``betas_sessionNN.nii.gz`` of a subject's betas folder to convert.

    Raises
    ------
    DataError
        If the folder holds no session file.
    ParamsError
        If a wanted session has no file; the message lists those found.
    """
    found = {int(match.group(1)): path for path in sorted(folder.iterdir())
             if (match := SESSION_FILE.match(path.name))}
    if not found:
        raise DataError(f"{folder}: no betas_sessionNN.nii.gz; expected the subject's "
                        "sessions of single-trial betas")
    missing = [session for session in wanted or [] if session not in found]
    if missing:
        raise ParamsError(f"{OPTION}.sessions: got {', '.join(map(str, missing))}; expected "
                          f"sessions of {folder}: {', '.join(map(str, sorted(found)))}")
    beyond = [session for session in found if session > SESSIONS_IN_DESIGN]
    if beyond and not wanted:
        logger.warning("%s: sessions %s are beyond the design's %d; left out", folder, beyond,
                       SESSIONS_IN_DESIGN)
    return {session: found[session] for session in sorted(wanted or found)
            if session <= SESSIONS_IN_DESIGN}


def bids_label(name: str) -> str:
    """``name`` as a BIDS label, which is alphanumeric: ``betas_fithrf`` -> ``betasfithrf``."""
    return re.sub(r"[^A-Za-z0-9]", "", name)


def session_stem(subject: str, session: int, betas: str) -> str:
    """``sub-01_ses-01_desc-<betas as a label>``, the name of a session's files."""
    return f"sub-{subject}_ses-{session:02d}_desc-{bids_label(betas)}"


def write_session(source: Path, img: nib.Nifti1Image, inside: np.ndarray, trials: pd.DataFrame,
                  options: NsdOptions, target: Path) -> None:
    """Write one session: betas (``target``), their sidecar and their events.

    Parameters
    ----------
    source : Path
        The release file, relative to the release root (recorded in the sidecar).
    img : nibabel.Nifti1Image
        The release's betas of the session.
    inside : ndarray of bool, shape (x, y, z)
        The ROI.
    trials : pandas.DataFrame
        The session's rows of :meth:`NsdDesign.subject_trials`.
    options : NsdOptions
        The study's options.
    target : Path
        ``.../<stem>_betas.nii.gz``.
    """
    from pipeline.read_errors import reading

    stem = target.name.removesuffix("_betas.nii.gz")
    with reading(img.get_filename(), "NSD betas file"):
        write_float_series(target, img.header, percent_change(img, inside))
    write_json({"RepetitionTime": PREPARATION_TR[options.resolution],
                "Estimates": options.betas, "Units": "percent signal change",
                "Space": options.resolution, "TrialDuration": TRIAL_SECONDS,
                "StimulusDuration": STIMULUS_SECONDS, "Mask": options.roi,
                "Sources": [source.as_posix()]}, target.with_name(f"{stem}_betas.json"))
    write_tsv(pd.DataFrame({"trial": trials["trial"].to_numpy(),
                            "stimulus_id": trials["image"].map(stimulus_id).to_numpy(),
                            "repetition": trials["repetition"].to_numpy()}),
              target.with_name(f"{stem}_events.tsv"))


def image_splits(design: NsdDesign, subjects: list[str], val_fraction: float
                 ) -> dict[str, str]:
    """Stimulus id -> split: the shared images test; the subjects' others train or val.

    Validation images are drawn among all of the subjects' non-shared images of the design
    (seed 0), so converting more sessions never moves an image between splits.
    """
    from pipeline.studies.things_concepts import draw_validation

    shared = {stimulus_id(image) for image in design.sharedix}
    own = {stimulus_id(image) for subject in subjects
           for image in design.subject_images(subject)} - shared
    return {**draw_validation(sorted(own), val_fraction), **dict.fromkeys(shared, "test")}


def write_images(path: Path, images: np.ndarray, folder: Path) -> None:
    """Write the 73k images ``images`` (1-based ids) of ``imgBrick`` as PNGs in ``folder``.

    Raises
    ------
    DataError
        If the file is unreadable, lacks ``imgBrick``, or its shape cannot hold the images.
    """
    import h5py
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    try:
        store = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc}); expected the NSD images "
                        f"({IMAGE_DATASET})") from None
    with store:
        brick = store.get(IMAGE_DATASET)
        if not isinstance(brick, h5py.Dataset):
            raise DataError(f"{path}: no {IMAGE_DATASET} dataset; expected the NSD images")
        if brick.ndim != 4 or brick.shape[3] != 3 or brick.dtype != np.uint8 or \
                brick.shape[0] < images.max():
            raise DataError(f"{path}: {IMAGE_DATASET} of shape {brick.shape} {brick.dtype}; "
                            f"expected (73k images, height, width, 3) uint8 holding image "
                            f"{images.max()} (73000 x 425 x 425 x 3 in NSD)")
        for image in images:
            Image.fromarray(brick[int(image) - 1]).save(folder / f"{stimulus_id(image)}.png")


def stimulus_table(images: np.ndarray, splits: dict[str, str], coco_ids: pd.Series,
                   where: Path) -> pd.DataFrame:
    """One row per image shown: stimulus_id, split, image, caption, coco_id.

    Raises
    ------
    DataError
        If an image has no row in the stimulus info CSV ``where``.
    """
    missing = [image for image in images if image not in coco_ids.index]
    if missing:
        raise DataError(f"{where}: no row with nsdId {missing[0] - 1}; expected one per 73k "
                        "image (nsdId is 0-based)")
    ids = [stimulus_id(image) for image in images]
    coco = coco_ids.loc[images].astype(int).to_numpy()
    return pd.DataFrame({"stimulus_id": ids, "split": [splits[name] for name in ids],
                         "image": [f"{IMAGE_FOLDER}/{name}.png" for name in ids],
                         "caption": [f"COCO image {number}" for number in coco],
                         "coco_id": coco})


def _same_grid(first: nib.Nifti1Image | None, img: nib.Nifti1Image, subject: str
               ) -> nib.Nifti1Image:
    """The first subject's grid, after checking ``img`` (of ``subject``) is on it.

    Raises
    ------
    ParamsError
        If subjects are on different grids (each NSD subject's native space is its own).
    """
    if first is not None and (first.shape[:3] != img.shape[:3]
                              or not np.allclose(first.affine, img.affine, atol=1e-3)):
        raise ParamsError(f"{OPTION}.subjects: subj{subject}'s grid {img.shape[:3]} differs "
                          f"from {first.shape[:3]} of the first subject (or its affine); "
                          "expected subjects on one grid: add one study per NSD subject")
    return first if first is not None else img


def write_subject(root: Path, options: NsdOptions, design: NsdDesign, subject: str,
                  out_dir: Path, grid: nib.Nifti1Image | None
                  ) -> tuple[list[np.ndarray], nib.Nifti1Image]:
    """Write a subject's ROI mask and selected sessions into ``out_dir/sub-<NN>/betas/``.

    Returns
    -------
    shown : list of ndarray
        The 73k ids shown, one array per session.
    grid : nibabel.Nifti1Image
        ``grid``, or the subject's first session when ``grid`` is None.

    Raises
    ------
    DataError
        If a session or the ROI is missing, unreadable or off the subject's grid.
    ParamsError
        If a session is not in the release, or the subject is on another grid than ``grid``.
    """
    import nibabel as nib

    folder = root / BETAS_FOLDER.format(subject=subject, resolution=options.resolution,
                                        betas=options.betas)
    trials = design.subject_trials(subject)
    betas_dir = out_dir / f"sub-{subject}" / "betas"
    betas_dir.mkdir(parents=True, exist_ok=True)
    shown, inside = [], None
    for session, path in select_sessions(folder, options.sessions).items():
        img = open_release_betas(path, design.trials_per_session)
        if inside is None:
            grid = _same_grid(grid, img, subject)
            inside = read_roi(root / ROI_FILE.format(subject=subject, roi=options.roi,
                                                     resolution=options.resolution), img)
            nib.save(nib.Nifti1Image(inside.astype(np.uint8), img.affine),
                     betas_dir / f"sub-{subject}_desc-{bids_label(options.roi)}_mask.nii.gz")
        elif img.shape[:3] != inside.shape:
            raise DataError(f"{path}: grid {img.shape[:3]}; expected {inside.shape} as the "
                            "subject's first session and ROI")
        rows = trials[trials["session"] == session]
        target = betas_dir / f"{session_stem(subject, session, options.betas)}_betas.nii.gz"
        write_session(path.relative_to(root), img, inside, rows, options, target)
        shown.append(rows["image"].to_numpy())
        logger.info("subj%s session %02d: %d trials, %d ROI voxels", subject, session,
                    len(rows), int(inside.sum()))
    return shown, grid


@STUDIES.register("nsd")
class NsdStudy:
    """NSD's single-trial betas of the selected subjects and sessions, with their images."""

    options = NsdOptions

    def generate(self, options: NsdOptions, out_dir: Path) -> None:
        """Write every selected session's betas and trials, the ROI, the images, the terms.

        Raises
        ------
        DataError
            If a release file is missing, unreadable, or inconsistent with the design.
        ParamsError
            If a subject or session is not in the release, or subjects' grids differ.
        """
        from pipeline.studies.bids_output import STIMULI_TABLE

        root, out_dir = release_root(options.root), Path(out_dir)
        design = read_design(release_file(root, DESIGN, "the experimental design"))
        coco_ids = read_coco_ids(release_file(root, STIM_INFO, "the image table"))
        hdf5 = release_file(root, IMAGES, "the images")
        check_subjects(root, options, design)
        shown, grid = [], None
        for subject in options.subjects:
            sessions, grid = write_subject(root, options, design, subject, out_dir, grid)
            shown += sessions
        images = np.unique(np.concatenate(shown))  # (n_images,) 73k ids, sorted
        splits = image_splits(design, options.subjects, options.val_fraction)
        table = stimulus_table(images, splits, coco_ids, root / STIM_INFO)
        write_images(hdf5, images, out_dir / "stimuli" / IMAGE_FOLDER)
        write_tsv(table, out_dir / STIMULI_TABLE)
        write_json(DESCRIPTION, out_dir / "dataset_description.json")
        (out_dir / "README").write_text(README)
        logger.info("NSD: %d subjects, stimuli %s", len(options.subjects),
                    table["split"].value_counts().to_dict())
