"""Preprocess a study released already epoched: ``sub-*/[ses-*/]epochs/*_epo.fif``.

Some datasets are published as epochs, not continuous recordings (THINGS-EEG2's preprocessed
release). Their study writes one MNE epochs file per recording, with a ``stimulus_id`` column
in its metadata (and ``onset`` where known), under a datatype folder ``epochs``. The steps of
``preprocess.steps`` that work on epochs (``pick``, ``set_channel_types``, ``baseline``,
``resample``, ``robust_scale``, ...) then run on them; none needs to cut epochs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import mne
import mne_bids
import pandas as pd

from pipeline.errors import DataError
from pipeline.preprocess.eeg_meg import EpochsCollector
from pipeline.preprocess.montage import standard_montage
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.recordings import STIMULI_TABLE, read_stimuli
from pipeline.preprocess.step import Kind, StepContext, plan_steps, run_steps
from pipeline.preprocess.study import PIPELINES
from pipeline.read_errors import reading

logger = logging.getLogger(__name__)

DATATYPE = "epochs"
SUFFIX = "_epo.fif"


def find_epoch_files(raw_dir: Path) -> list[Path]:
    """Return the epochs files of the study root ``raw_dir``, by subject, session and name.

    Raises
    ------
    DataError
        If there is none.
    """
    files = sorted([*raw_dir.glob(f"sub-*/{DATATYPE}/*{SUFFIX}"),
                    *raw_dir.glob(f"sub-*/ses-*/{DATATYPE}/*{SUFFIX}")])
    if not files:
        raise DataError(f"{raw_dir}: no epochs file found (expected sub-*/{DATATYPE}/"
                        f"*{SUFFIX}, MNE epochs with a stimulus_id metadata column)")
    return files


def read_epochs(path: Path, stimulus_ids: pd.Series) -> mne.BaseEpochs:
    """Read one epochs file and keep the epochs whose ``stimulus_id`` is a known stimulus.

    Raises
    ------
    DataError
        If the file cannot be read or its metadata has no ``stimulus_id`` column.
    """
    with reading(path, "epochs file"):
        epochs = mne.read_epochs(path, preload=True, verbose=False)
    if epochs.metadata is None or "stimulus_id" not in epochs.metadata:
        raise DataError(f"{path}: no stimulus_id in the epochs' metadata; expected one per "
                        "epoch naming its stimulus")
    known = epochs.metadata["stimulus_id"].astype(str).isin(set(stimulus_ids)).to_numpy()
    if not known.all():
        logger.warning("%s: %d epochs name no stimulus of %s; left out", path.name,
                       int((~known).sum()), STIMULI_TABLE)
    return epochs[known] if not known.all() else epochs


def _labels(path: Path) -> mne_bids.BIDSPath:
    """The subject, session and run that the file's name gives."""
    entities = mne_bids.get_entities_from_fname(path.name)
    return mne_bids.BIDSPath(subject=entities["subject"], session=entities.get("session"),
                             run=entities.get("run"), check=False)


@PIPELINES.register(DATATYPE)
def preprocess_epoched(cfg: PreprocessConfig, raw_dir: str | Path, out_dir: str | Path,
                       datatype: str = DATATYPE) -> dict[str, Any]:
    """Run the epoch steps of ``cfg`` on every epochs file and stack the results.

    Parameters
    ----------
    cfg : PreprocessConfig
        The ``preprocess`` section; its steps start from epochs (no ``epoch`` step).
    raw_dir : str or Path
        The study root: ``sub-*/[ses-*/]epochs/*_epo.fif`` and ``stimuli/stimuli.tsv``.
    out_dir : str or Path
        An existing, empty directory; receives ``epochs.npy``, ``trials.tsv``, ``info.json``.
    datatype : str
        ``epochs``.

    Returns
    -------
    dict
        ``n_trials`` (per split), ``bad_channels``, ``n_recordings``, ``seconds``.

    Raises
    ------
    ParamsError
        If a step needs a continuous recording, or its kwargs are invalid.
    DataError
        If a file is unreadable, lacks stimulus ids, or its layout differs from the first's.
    """
    start = time.perf_counter()
    raw_dir = Path(raw_dir)
    files = find_epoch_files(raw_dir)
    stimuli = read_stimuli(raw_dir, cfg.split_seed)
    plan = plan_steps(cfg.steps, start=Kind.EPOCHS)
    standard_montage(cfg.montage)
    collector = EpochsCollector(Path(out_dir), stimuli.set_index("stimulus_id")["split"])
    for path in files:
        epochs = read_epochs(path, stimuli["stimulus_id"])
        if not len(epochs):
            continue
        events = epochs.metadata.reset_index(drop=True)
        context = StepContext(path.name, cfg.montage, events, owns_data=True)
        epochs, bads = run_steps(plan, epochs, context)
        n_epochs = collector.add(epochs, bads, _labels(path), path.name)
        logger.info("%s: %d trials, bad channels: %s", path.name, n_epochs,
                    ", ".join(bads) or "none")
    if collector.layout is None:
        raise DataError(f"{raw_dir}: no epoch names a stimulus_id of {raw_dir / STIMULI_TABLE}")
    return collector.finish(cfg, start)
