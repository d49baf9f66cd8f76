"""Preprocess a BIDS study of BOLD runs into single-trial estimates (betas.npy, trials.tsv).

Each run, one at a time: mask (nilearn), nuisance (cosine drift + confounds TSV columns +
constant), single-trial estimates (:mod:`pipeline.preprocess.fmri_glm`), optionally z-scored
per voxel within the run. Outputs (docs/stages.md, preprocessed fMRI): ``betas.npy`` float32
``[trial, voxel]``, ``trials.tsv`` (as for M/EEG), ``mask.nii.gz`` and ``info.json``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import write_json, write_tsv
from pipeline.preprocess.arrays import RowStackWriter
from pipeline.preprocess.eeg_meg import NOT_APPLICABLE, TRIAL_COLUMNS
from pipeline.preprocess.fmri_glm import ESTIMATORS, nuisance_matrix
from pipeline.preprocess.fmri_mask import MASKS, read_mask
from pipeline.preprocess.fmri_runs import (
    FuncRun,
    find_runs,
    read_confounds,
    read_events,
    read_tr,
)
from pipeline.preprocess.options import FmriPreprocessConfig, PreprocessConfig
from pipeline.preprocess.recordings import SPLITS, read_stimuli
from pipeline.preprocess.study import PIPELINES

logger = logging.getLogger(__name__)

MIN_STD = 1e-8


def load_run(run: FuncRun, reference: nib.Nifti1Image | None) -> nib.Nifti1Image:
    """Open a BOLD run (lazily) and check it is 4-D on the reference grid.

    Raises
    ------
    DataError
        If the file is unreadable, not 4-D, or on another grid than the first run.
    """
    try:
        img = nib.load(run.path)
        shape = img.shape
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise DataError(f"{run.path}: not a readable NIfTI ({exc})") from None
    if len(shape) != 4 or shape[3] < 2:
        raise DataError(f"{run.path}: shape {shape}; expected 4-D (x, y, z, time), 2+ volumes")
    if reference is not None and (
        shape[:3] != reference.shape[:3] or not np.allclose(img.affine, reference.affine)
    ):
        raise DataError(f"{run.path}: grid {shape[:3]} differs from the first run's "
                        f"{reference.shape[:3]} (or its affine); expected every run on one grid")
    return img


def standardize(estimates: np.ndarray) -> np.ndarray:
    """Z-score each voxel over the trials of a run. (N, V) -> (N, V); constant voxels give 0."""
    std = estimates.std(axis=0)
    return (estimates - estimates.mean(axis=0)) / np.where(std > MIN_STD, std, np.inf)


def voxel_info(mask: nib.Nifti1Image) -> dict[str, Any]:
    """Voxel labels (``v<i>_<j>_<k>``), positions (metres, scanner space) and the grid."""
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0)  # (V, 3), the order of apply_mask
    xyz = nib.affines.apply_affine(mask.affine, ijk) / 1000.0  # (V, 3) metres
    return {
        "ch_names": [f"v{i}_{j}_{k}" for i, j, k in ijk],
        "ch_types": ["voxel"] * len(ijk),
        "ch_pos": np.round(xyz, 6).tolist(),
        "n_voxels": int(len(ijk)),
        "affine": np.asarray(mask.affine).tolist(),
        "shape": list(mask.shape[:3]),
    }


def _mask(cfg: FmriPreprocessConfig, raw_dir: Path, runs: list[FuncRun],
          reference: nib.Nifti1Image) -> nib.Nifti1Image:
    """The study's mask: ``mask_file`` if set, else the ``mask`` strategy."""
    if cfg.mask_file is not None:
        return read_mask(raw_dir / cfg.mask_file, reference)
    return MASKS.get(cfg.mask)(raw_dir, [run.path for run in runs], reference)


def estimate_run(cfg: FmriPreprocessConfig, raw_dir: Path, run: FuncRun, img: nib.Nifti1Image,
                 mask: nib.Nifti1Image, tr: float, events: pd.DataFrame
                 ) -> tuple[np.ndarray, pd.DataFrame]:
    """Mask one run, build its nuisance regressors and estimate its trials.

    Returns
    -------
    estimates : ndarray, shape (n_trials, n_voxels), float32
    trials : DataFrame
        The trials estimated (onset, duration, stimulus_id, block: the source event), in
        row order.
    """
    from nilearn.masking import apply_mask  # nilearn imports in seconds: only when used

    data = apply_mask(img, mask, smoothing_fwhm=cfg.smoothing_fwhm)  # (T, V)
    frame_times = np.arange(len(data)) * tr
    confounds = read_confounds(run, raw_dir, cfg.confounds, len(data))
    nuisance = nuisance_matrix(frame_times, cfg.high_pass, confounds)  # (T, P)
    estimates, trials = ESTIMATORS.get(cfg.estimator)(data, frame_times, events, nuisance, cfg)
    if cfg.standardize:
        estimates = standardize(estimates)
    return estimates.astype(np.float32), trials


@PIPELINES.register("func")
def preprocess_bold(cfg: PreprocessConfig, raw_dir: str | Path, out_dir: str | Path,
                    datatype: str = "func") -> dict[str, Any]:
    """Preprocess every BOLD run of a BIDS study into one memory-mapped betas array.

    Parameters
    ----------
    cfg : PreprocessConfig
        Uses ``split_seed`` and ``fmri`` (:class:`pipeline.config.FmriPreprocessConfig`).
    raw_dir : str or Path
        The BIDS root: ``sub-*/[ses-*/]func/*_bold.nii[.gz]`` with ``_bold.json``
        (RepetitionTime) and ``_events.tsv`` (onset, duration, and the stimulus id in
        ``fmri.trial_type_column``), ``stimuli/stimuli.tsv``; confounds in
        ``derivatives/*/.../<run>_desc-confounds_timeseries.tsv`` when ``fmri.confounds`` is set.
    out_dir : str or Path
        An existing directory; receives ``betas.npy`` (float32, ``[trial, voxel]``),
        ``trials.tsv``, ``mask.nii.gz`` and ``info.json``.
    datatype : str
        The BIDS datatype (func).

    Returns
    -------
    dict
        ``n_trials`` (per split), ``n_voxels``, ``n_recordings``, ``seconds``.

    Raises
    ------
    DataError
        If a run, its sidecar, events or confounds, the mask or the stimulus table is
        missing or inconsistent, or no event names a stimulus.
    """
    start = time.perf_counter()
    raw_dir, out_dir, opts = Path(raw_dir), Path(out_dir), cfg.fmri
    runs = find_runs(raw_dir)
    stimuli = read_stimuli(raw_dir, cfg.split_seed)
    splits = stimuli.set_index("stimulus_id")["split"]
    reference = load_run(runs[0], None)
    mask = _mask(opts, raw_dir, runs, reference)
    writer = RowStackWriter(out_dir / "betas.npy")
    tables: list[pd.DataFrame] = []
    first_tr: tuple[float, Path] | None = None
    for run in runs:
        began = time.perf_counter()
        img = load_run(run, reference)
        tr = read_tr(run, raw_dir, img)
        first_tr = first_tr or (tr, run.path)
        if abs(tr - first_tr[0]) > 1e-3:
            raise DataError(f"{run.path}: TR {tr} s; expected {first_tr[0]} s as in "
                            f"{first_tr[1].name} (every run at one TR)")
        events = read_events(run, opts.trial_type_column, set(splits.index))
        if events.empty:
            logger.warning("%s: no event names a stimulus of stimuli.tsv; skipped", run.path.name)
            continue
        events = events.assign(block=np.arange(len(events)))  # the source event of each trial
        estimates, trials = estimate_run(opts, raw_dir, run, img, mask, tr, events)
        writer.append(estimates)
        tables.append(pd.DataFrame({
            "subject": run.subject, "session": run.session or NOT_APPLICABLE,
            "run": run.run or NOT_APPLICABLE, "stimulus_id": trials["stimulus_id"].to_numpy(),
            "split": trials["stimulus_id"].map(splits).to_numpy(),
            "onset": trials["onset"].round(6).to_numpy(),
            "block": trials["block"].to_numpy(),
        }))
        logger.info("%s: %d trials x %d voxels (%s), %.1f s", run.path.name, len(estimates),
                    estimates.shape[1], opts.estimator, time.perf_counter() - began)
    if not tables:
        raise DataError(f"{raw_dir}: no trials; expected events whose "
                        f"{opts.trial_type_column} is a stimulus_id of stimuli/stimuli.tsv")
    writer.close()
    table = pd.concat(tables, ignore_index=True)
    table["repetition"] = table.groupby(["subject", "stimulus_id"]).cumcount()
    write_tsv(table[[*TRIAL_COLUMNS, "block"]], out_dir / "trials.tsv")
    nib.save(mask, out_dir / "mask.nii.gz")
    write_json({
        "datatype": datatype, "tr": first_tr[0], "sfreq": 1.0 / first_tr[0], "tmin": 0.0,
        **voxel_info(mask), "estimator": opts.estimator,
        "subjects": sorted(set(table["subject"])), "fmri": opts.model_dump(mode="json"),
    }, out_dir / "info.json")
    counts = table["split"].value_counts()
    summary = {
        "n_trials": {split: int(counts.get(split, 0)) for split in SPLITS},
        "n_voxels": int(np.asarray(mask.dataobj).astype(bool).sum()),
        "n_recordings": len(tables),
        "seconds": round(time.perf_counter() - start, 2),
    }
    logger.info("%d trials x %d voxels from %d runs in %.1f s: %s", len(table),
                summary["n_voxels"], len(tables), summary["seconds"], summary["n_trials"])
    return summary
