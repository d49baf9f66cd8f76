"""Preprocess a study released as single-trial betas: ``sub-*/[ses-*/]betas/*_betas.nii.gz``.

Some fMRI datasets publish one response estimate per trial (the Natural Scenes Dataset's
GLMsingle betas) rather than BOLD series to fit. Their study writes, per subject and session:

- ``*_betas.nii.gz``: a 4-D NIfTI (x, y, z, trial), one volume of estimates per trial;
- ``*_betas.json``: ``RepetitionTime`` (s) of the series the betas were fitted on and
  ``Estimates``, the name of the model that fitted them;
- ``*_events.tsv``: ``trial`` (the volume's 0-based index) and ``stimulus_id``; optionally
  ``repetition`` (earlier showings of the stimulus to the subject), ``run`` and ``onset``;

and one mask per subject, ``sub-*/betas/*_mask.nii.gz``. No GLM runs: the betas are masked
(the intersection of the subjects' masks, and of ``preprocess.fmri.mask_file`` when set),
z-scored per voxel within each file when ``preprocess.fmri.standardize`` is on, and written as
the preprocessed fMRI of :mod:`pipeline.preprocess.fmri`: ``betas.npy`` float32 ``[trial,
voxel]``, ``trials.tsv``, ``mask.nii.gz`` and ``info.json``. The other ``preprocess.fmri``
options (estimator, drifts, confounds, smoothing) concern BOLD series and are ignored.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import read_json, read_tsv, write_json, write_tsv
from pipeline.preprocess.arrays import RowStackWriter
from pipeline.preprocess.eeg_meg import NOT_APPLICABLE, TRIAL_COLUMNS
from pipeline.preprocess.fmri import standardize, voxel_info
from pipeline.preprocess.fmri_mask import read_mask
from pipeline.preprocess.options import FmriPreprocessConfig, PreprocessConfig
from pipeline.preprocess.recordings import SPLITS, STIMULI_TABLE, read_stimuli
from pipeline.preprocess.study import PIPELINES
from pipeline.read_errors import reading

logger = logging.getLogger(__name__)

DATATYPE = "betas"
BETAS_SUFFIX = "_betas.nii.gz"
SIDECAR_SUFFIX = "_betas.json"
EVENTS_SUFFIX = "_events.tsv"
MASK_PATTERN = "*_mask.nii*"
EVENT_COLUMNS = ("trial", "stimulus_id")
APPLIED_OPTIONS = {"standardize", "mask_file"}  # the preprocess.fmri options betas use
CHUNK_BYTES = 256 * 2**20  # volumes read at a time: at most this many bytes as float64
SUBJECT = re.compile(r"(?:^|_)sub-([A-Za-z0-9]+)")
SESSION = re.compile(r"_ses-([A-Za-z0-9]+)")


@dataclass(frozen=True)
class BetasFile:
    """One file of single-trial betas and the labels its name gives."""

    path: Path
    subject: str
    session: str | None

    def companion(self, suffix: str) -> Path:
        """The file beside it with ``suffix`` in place of ``_betas.nii.gz``."""
        return self.path.with_name(self.path.name[: -len(BETAS_SUFFIX)] + suffix)


def find_betas_files(raw_dir: Path) -> list[BetasFile]:
    """Return the betas files of the study root ``raw_dir``, by subject, session and name.

    Raises
    ------
    DataError
        If there is none, or a name carries no ``sub-<label>``.
    """
    paths = sorted([*raw_dir.glob(f"sub-*/{DATATYPE}/*{BETAS_SUFFIX}"),
                    *raw_dir.glob(f"sub-*/ses-*/{DATATYPE}/*{BETAS_SUFFIX}")])
    if not paths:
        raise DataError(f"{raw_dir}: no betas file found (expected sub-*/{DATATYPE}/"
                        f"*{BETAS_SUFFIX}, 4-D NIfTI of single-trial estimates)")
    files = []
    for path in paths:
        subject, session = SUBJECT.search(path.name), SESSION.search(path.name)
        if subject is None:
            raise DataError(f"{path}: no sub-<label> in the name; expected "
                            f"sub-<label>[_ses-<label>]_..{BETAS_SUFFIX}")
        files.append(BetasFile(path, subject.group(1), session.group(1) if session else None))
    return sorted(files, key=lambda file: (file.subject, file.session or "", file.path.name))


def open_betas(path: Path, reference: nib.Nifti1Image | None) -> nib.Nifti1Image:
    """Open a betas file lazily (read by :func:`volume_chunks`); check it is 4-D on the grid.

    Raises
    ------
    DataError
        If the file is unreadable, not 4-D, or on another grid than ``reference``.
    """
    with reading(path, "betas file"):
        img = nib.load(path, keep_file_open=True)  # one stream, read forward chunk by chunk
        shape = img.shape
    if len(shape) != 4:
        raise DataError(f"{path}: shape {shape}; expected 4-D (x, y, z, trial)")
    if reference is not None and (
        shape[:3] != reference.shape[:3] or not np.allclose(img.affine, reference.affine)
    ):
        raise DataError(f"{path}: grid {shape[:3]} differs from {reference.shape[:3]} of the "
                        "first betas file (or its affine); expected every file on one grid "
                        "(subjects in native space each have their own: one study per subject)")
    return img


def volume_chunks(img: nib.Nifti1Image, budget: int | None = None
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first volume, data (x, y, z, k))`` of a 4-D image, in order, k at a time.

    ``k`` keeps a chunk under ``budget`` bytes (default ``CHUNK_BYTES``) as float64, so a
    session of whole-brain volumes never sits in memory at once.
    """
    n_volumes = img.shape[3]
    step = max(1, int((budget or CHUNK_BYTES) // (8 * int(np.prod(img.shape[:3])))))
    for start in range(0, n_volumes, step):
        yield start, np.asarray(img.dataobj[..., start:start + step])


def masked_trials(img: nib.Nifti1Image, inside: np.ndarray, trials: np.ndarray
                  ) -> np.ndarray:
    """The volumes ``trials`` of ``img`` at the voxels ``inside``, in the order of ``trials``.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        A 4-D image (x, y, z, volume).
    inside : ndarray of bool, shape (x, y, z)
        The voxels to keep; their order is ``np.argwhere``'s (that of :func:`voxel_info`).
    trials : ndarray of int, shape (n_trials,)
        Volume indices.

    Returns
    -------
    ndarray, shape (n_trials, n_voxels), float32
    """
    rows = np.empty((len(trials), int(inside.sum())), dtype=np.float32)
    with reading(img.get_filename(), "betas file"):
        for start, chunk in volume_chunks(img):
            hit = (trials >= start) & (trials < start + chunk.shape[3])  # (n_trials,)
            if hit.any():
                rows[hit] = chunk[inside][:, trials[hit] - start].T  # (n_hit, n_voxels)
    return rows


def read_repetition_time(file: BetasFile) -> tuple[float, str]:
    """The ``RepetitionTime`` and ``Estimates`` of a betas file's sidecar.

    Raises
    ------
    DataError
        If the sidecar is missing or ``RepetitionTime`` is not a positive number.
    """
    path = file.companion(SIDECAR_SUFFIX)
    sidecar = read_json(path)
    tr = sidecar.get("RepetitionTime") if isinstance(sidecar, dict) else None
    if isinstance(tr, bool) or not isinstance(tr, (int, float)) or not tr > 0:
        raise DataError(f"{path}: RepetitionTime {tr!r}; expected the seconds between volumes "
                        "of the series the betas were fitted on (a positive number)")
    return float(tr), str(sidecar.get("Estimates", DATATYPE))


def read_trial_events(file: BetasFile, n_volumes: int, stimulus_ids: set[str]
                      ) -> pd.DataFrame:
    """The trials of a betas file that name a known stimulus, in volume order.

    Raises
    ------
    DataError
        If the events file is missing, lacks ``trial`` or ``stimulus_id``, or a trial is
        not a volume index of the betas file (0 to ``n_volumes`` - 1) or is listed twice.
    """
    path = file.companion(EVENTS_SUFFIX)
    events = read_tsv(path, required=list(EVENT_COLUMNS))
    trial = pd.to_numeric(events["trial"], errors="coerce")
    outside = ~trial.between(0, n_volumes - 1) | (trial % 1 != 0)
    if outside.any():
        raise DataError(f"{path}: trial {events['trial'][outside].iloc[0]!r}; expected volume "
                        f"indices 0 to {n_volumes - 1} of {file.path.name}")
    if trial.duplicated().any():
        raise DataError(f"{path}: trial {int(trial[trial.duplicated()].iloc[0])} listed twice; "
                        "expected one row per volume")
    events = events.assign(trial=trial.astype(int), stimulus_id=events["stimulus_id"].astype(str))
    known = events["stimulus_id"].isin(stimulus_ids)
    if not known.all():
        logger.warning("%s: %d trials name no stimulus of %s; left out", path.name,
                       int((~known).sum()), STIMULI_TABLE)
    return events[known].sort_values("trial", kind="stable").reset_index(drop=True)


def subject_masks(raw_dir: Path, subjects: list[str]) -> list[Path]:
    """The mask files ``sub-<label>/betas/*_mask.nii[.gz]`` of ``subjects``, sorted."""
    return sorted(path for subject in subjects
                  for path in (raw_dir / f"sub-{subject}" / DATATYPE).glob(MASK_PATTERN))


def betas_mask(cfg: FmriPreprocessConfig, raw_dir: Path, subjects: list[str],
               reference: nib.Nifti1Image) -> nib.Nifti1Image:
    """The voxels kept: in every subject's mask and in ``cfg.mask_file`` when set.

    Raises
    ------
    DataError
        If there is no mask at all, a mask is unreadable, or the intersection is empty.
    """
    paths = subject_masks(raw_dir, subjects)
    if cfg.mask_file is not None:
        paths.append(raw_dir / cfg.mask_file)
    if not paths:
        raise DataError(f"{raw_dir}: no sub-*/{DATATYPE}/{MASK_PATTERN} for subjects "
                        f"{', '.join(subjects)}; expected each subject's mask beside its betas "
                        "(or set preprocess.fmri.mask_file)")
    inside = np.logical_and.reduce([np.asarray(read_mask(path, reference).dataobj) > 0
                                    for path in paths])  # (x, y, z)
    if not inside.any():
        raise DataError(f"{raw_dir}: the masks {', '.join(path.name for path in paths)} share "
                        "no voxel; expected an overlap")
    logger.info("mask: %d voxels, the intersection of %d mask(s)", int(inside.sum()), len(paths))
    return nib.Nifti1Image(inside.astype(np.uint8), reference.affine)


def _warn_ignored(cfg: FmriPreprocessConfig) -> None:
    """Log the ``preprocess.fmri`` options set in params.yaml that betas do not use."""
    ignored = sorted(cfg.model_fields_set - APPLIED_OPTIONS)
    if ignored:
        logger.warning("preprocess.fmri: %s concern BOLD series; the betas pipeline ignores "
                       "them (it uses standardize and mask_file)", ", ".join(ignored))


def trial_rows(file: BetasFile, events: pd.DataFrame, splits: pd.Series) -> pd.DataFrame:
    """The rows of ``trials.tsv`` for the trials of one betas file (repetition may be NaN)."""
    def column(name: str, default: Any) -> pd.Series:
        return events[name] if name in events else pd.Series(default, index=events.index)

    return pd.DataFrame({
        "subject": file.subject, "session": file.session or NOT_APPLICABLE,
        "run": column("run", NOT_APPLICABLE).to_numpy(),
        "stimulus_id": events["stimulus_id"].to_numpy(),
        "split": events["stimulus_id"].map(splits).to_numpy(),
        "repetition": column("repetition", np.nan).to_numpy(),
        "onset": pd.to_numeric(column("onset", np.nan), errors="coerce").round(6).to_numpy(),
        "block": events["trial"].to_numpy(),
    })


def count_repetitions(table: pd.DataFrame) -> pd.Series:
    """The events' ``repetition`` where every trial has one, else counted in table order."""
    given = pd.to_numeric(table["repetition"], errors="coerce")
    if given.notna().all():
        return given.astype(int)
    return table.groupby(["subject", "stimulus_id"]).cumcount()


@PIPELINES.register(DATATYPE)
def preprocess_betas(cfg: PreprocessConfig, raw_dir: str | Path, out_dir: str | Path,
                     datatype: str = DATATYPE) -> dict[str, Any]:
    """Mask every betas file of a study and stack its trials into one betas array.

    Parameters
    ----------
    cfg : PreprocessConfig
        Uses ``split_seed`` and ``fmri.standardize`` and ``fmri.mask_file``.
    raw_dir : str or Path
        The study root: ``sub-*/[ses-*/]betas/*_betas.nii.gz`` with ``_betas.json`` and
        ``_events.tsv``, ``sub-*/betas/*_mask.nii.gz``, ``stimuli/stimuli.tsv``.
    out_dir : str or Path
        An existing directory; receives ``betas.npy`` (float32, ``[trial, voxel]``),
        ``trials.tsv``, ``mask.nii.gz`` and ``info.json``, as the ``func`` pipeline does.
    datatype : str
        ``betas``.

    Returns
    -------
    dict
        ``n_trials`` (per split), ``n_voxels``, ``n_recordings``, ``seconds``.

    Raises
    ------
    DataError
        If a betas file, its sidecar or events, a mask or the stimulus table is missing or
        inconsistent, the files are on different grids or repetition times, or no trial
        names a stimulus.
    """
    start = time.perf_counter()
    raw_dir, out_dir, opts = Path(raw_dir), Path(out_dir), cfg.fmri
    _warn_ignored(opts)
    files = find_betas_files(raw_dir)
    splits = read_stimuli(raw_dir, cfg.split_seed).set_index("stimulus_id")["split"]
    reference = open_betas(files[0].path, None)
    mask = betas_mask(opts, raw_dir, sorted({file.subject for file in files}), reference)
    inside = np.asarray(mask.dataobj) > 0  # (x, y, z)
    first_tr, estimates_name = read_repetition_time(files[0])
    writer = RowStackWriter(out_dir / "betas.npy")
    tables: list[pd.DataFrame] = []
    for file in files:
        began = time.perf_counter()
        img = open_betas(file.path, reference)
        tr, _ = read_repetition_time(file)
        if abs(tr - first_tr) > 1e-3:
            raise DataError(f"{file.companion(SIDECAR_SUFFIX)}: RepetitionTime {tr} s; expected "
                            f"{first_tr} s as for {files[0].path.name} (one series timing)")
        events = read_trial_events(file, img.shape[3], set(splits.index))
        if events.empty:
            logger.warning("%s: no trial names a stimulus of %s; skipped", file.path.name,
                           STIMULI_TABLE)
            continue
        estimates = masked_trials(img, inside, events["trial"].to_numpy())  # (n_trials, V)
        if opts.standardize:
            estimates = standardize(estimates).astype(np.float32)
        writer.append(estimates)
        tables.append(trial_rows(file, events, splits))
        logger.info("%s: %d trials x %d voxels, %.1f s", file.path.name, len(estimates),
                    estimates.shape[1], time.perf_counter() - began)
    if not tables:
        raise DataError(f"{raw_dir}: no trials; expected events whose stimulus_id is one of "
                        f"{raw_dir / STIMULI_TABLE}")
    writer.close()
    table = pd.concat(tables, ignore_index=True)
    table["repetition"] = count_repetitions(table)
    write_tsv(table[[*TRIAL_COLUMNS, "block"]], out_dir / "trials.tsv")
    nib.save(mask, out_dir / "mask.nii.gz")
    write_json({
        "datatype": datatype, "tr": first_tr, "sfreq": 1.0 / first_tr, "tmin": 0.0,
        **voxel_info(mask), "estimator": estimates_name,
        "subjects": sorted(set(table["subject"])), "fmri": opts.model_dump(mode="json"),
    }, out_dir / "info.json")
    counts = table["split"].value_counts()
    summary = {
        "n_trials": {split: int(counts.get(split, 0)) for split in SPLITS},
        "n_voxels": int(inside.sum()),
        "n_recordings": len(tables),
        "seconds": round(time.perf_counter() - start, 2),
    }
    logger.info("%d trials x %d voxels from %d betas files in %.1f s: %s", len(table),
                summary["n_voxels"], len(tables), summary["seconds"], summary["n_trials"])
    return summary
