"""Find the BOLD runs of a BIDS root and read what each needs: TR, events, confounds."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from mne_bids import get_entities_from_fname

from pipeline.errors import DataError
from pipeline.io import read_tsv

BOLD_SUFFIXES = ("_bold.nii.gz", "_bold.nii")
CONFOUNDS_SUFFIX = "_desc-confounds_timeseries.tsv"
TR_TOLERANCE = 1e-3  # seconds
TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


@dataclass(frozen=True)
class FuncRun:
    """One BOLD run of a BIDS root.

    Attributes
    ----------
    path : Path
        The ``*_bold.nii[.gz]`` file.
    stem : str
        Its name without ``_bold.nii[.gz]`` (``sub-01_task-images_run-01``).
    subject, session, run, task : str or None
        BIDS entities (subject is always set).
    """

    path: Path
    stem: str
    subject: str
    session: str | None
    run: str | None
    task: str | None

    def sidecar(self, suffix: str) -> Path:
        """The file beside the run with ``suffix`` (``_events.tsv``)."""
        return self.path.with_name(self.stem + suffix)


def find_runs(raw_dir: Path) -> list[FuncRun]:
    """Return the BOLD runs under ``sub-*/[ses-*/]func/``, by subject, session, run.

    Raises
    ------
    DataError
        If the root holds no ``*_bold.nii[.gz]``.
    """
    paths = [*Path(raw_dir).glob("sub-*/func/*_bold.nii*"),
             *Path(raw_dir).glob("sub-*/ses-*/func/*_bold.nii*")]
    runs = []
    for path in paths:
        suffix = next((s for s in BOLD_SUFFIXES if path.name.endswith(s)), None)
        if suffix is None:
            continue
        entities = get_entities_from_fname(path.name, on_error="ignore")
        runs.append(FuncRun(path, path.name.removesuffix(suffix), entities["subject"],
                            entities["session"], entities["run"], entities["task"]))
    if not runs:
        raise DataError(f"{raw_dir}: no BOLD run found; expected sub-*/func/*_bold.nii[.gz]")
    return sorted(runs, key=lambda r: (r.subject, r.session or "", r.run or "", r.stem))


def _header_tr(img: nib.Nifti1Image) -> float | None:
    """The TR in the NIfTI header (seconds), or None when it is unset or its unit unknown."""
    if len(img.shape) != 4:
        return None
    unit = img.header.get_xyzt_units()[1]
    zoom = float(img.header.get_zooms()[3])
    if unit not in TIME_UNITS or zoom <= 0:
        return None
    return zoom * TIME_UNITS[unit]


def read_tr(run: FuncRun, raw_dir: Path, img: nib.Nifti1Image) -> float:
    """The repetition time of ``run``: ``RepetitionTime`` of its (inherited) ``_bold.json``.

    Raises
    ------
    DataError
        If no sidecar gives it and the header has none, or the sidecar and the header disagree.
    """
    candidates = [run.sidecar("_bold.json"), Path(raw_dir) / f"task-{run.task}_bold.json"]
    sidecar = next((path for path in candidates if path.is_file()), None)
    header = _header_tr(img)
    if sidecar is None:
        if header is None:
            raise DataError(f"{candidates[0]}: file not found, and {run.path.name} has no TR in "
                            "its header; expected RepetitionTime (s)")
        return header
    try:
        tr = float(json.loads(sidecar.read_text())["RepetitionTime"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{sidecar}: no valid RepetitionTime ({exc!r}); expected seconds") from None
    if tr <= 0:
        raise DataError(f"{sidecar}: RepetitionTime {tr}; expected a positive number of seconds")
    if header is not None and abs(header - tr) > TR_TOLERANCE:
        raise DataError(f"{sidecar}: RepetitionTime {tr} s differs from the {header} s in the "
                        f"header of {run.path}; expected the same TR")
    return tr


def read_events(run: FuncRun, column: str, stimulus_ids: set[str]) -> pd.DataFrame:
    """The trials of ``run``: events whose ``column`` is a stimulus id.

    Returns
    -------
    DataFrame
        Columns onset, duration (seconds) and stimulus_id, in time order.

    Raises
    ------
    DataError
        If ``_events.tsv`` is missing or lacks a column, or a duration is not a number.
    """
    path = run.sidecar("_events.tsv")
    table = read_tsv(path, required=["onset", "duration", column])
    table = table.assign(stimulus_id=table[column].astype(str))
    table = table[table["stimulus_id"].isin(stimulus_ids)]
    durations = pd.to_numeric(table["duration"], errors="coerce")
    onsets = pd.to_numeric(table["onset"], errors="coerce")
    if durations.isna().any() or onsets.isna().any():
        raise DataError(f"{path}: onset or duration not a number on a stimulus row; expected "
                        "seconds")
    events = pd.DataFrame({"onset": onsets, "duration": durations,
                           "stimulus_id": table["stimulus_id"]})
    return events.sort_values("onset", kind="stable").reset_index(drop=True)


def confounds_path(run: FuncRun, raw_dir: Path) -> Path:
    """The run's ``derivatives/<pipeline>/.../<stem>_desc-confounds_timeseries.tsv``.

    Raises
    ------
    DataError
        If no derivative pipeline has it.
    """
    relative = run.path.parent.relative_to(raw_dir)
    name = run.stem + CONFOUNDS_SUFFIX
    found = sorted((Path(raw_dir) / "derivatives").glob(f"*/{relative}/{name}"))
    if not found:
        raise DataError(f"{Path(raw_dir) / 'derivatives' / '*' / relative / name}: file not "
                        "found; expected the run's confounds (preprocess.fmri.confounds is set)")
    return found[0]


def read_confounds(run: FuncRun, raw_dir: Path, patterns: list[str], n_frames: int
                   ) -> np.ndarray | None:
    """The confound columns matching ``patterns`` (fnmatch), one row per volume.

    Missing values (fMRIPrep leaves the first row of derivatives empty) become the column mean.

    Returns
    -------
    ndarray, shape (n_frames, n_columns), or None when ``patterns`` is empty

    Raises
    ------
    DataError
        If the file is missing, a pattern matches no column, or the row count is not n_frames.
    """
    if not patterns:
        return None
    path = confounds_path(run, raw_dir)
    table = read_tsv(path)
    columns = []
    for pattern in patterns:
        matched = [c for c in table.columns if fnmatch.fnmatchcase(c, pattern) and c not in columns]
        if not matched and not any(fnmatch.fnmatchcase(c, pattern) for c in columns):
            raise DataError(f"{path}: no column matches {pattern!r}; found "
                            f"{', '.join(table.columns)}")
        columns += matched
    if len(table) != n_frames:
        raise DataError(f"{path}: {len(table)} rows; expected {n_frames}, one per volume of "
                        f"{run.path.name}")
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    return values.fillna(values.mean()).fillna(0.0).to_numpy(np.float64)
