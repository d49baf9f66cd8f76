"""Unlabeled epochs for self-supervised pretraining: only the trials of the chosen splits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pipeline.artifacts import Preprocessed, read_preprocessed
from pipeline.encoders.base import signal_args
from pipeline.encoders.subjects import fitted_subjects, subject_indices
from pipeline.errors import DataError

logger = logging.getLogger(__name__)

PRETRAIN_OUTPUTS = 1  # the backbone's head is not pretrained; its width does not matter


@dataclass(frozen=True)
class PretrainData:
    """The trials pretraining may read (``rows``), with the study's subject indices.

    Subjects are indexed as in training (sorted labels of the train/val subjects), so the
    subject embeddings learned here are those the train stage looks up. Labels (stimuli)
    are never read.
    """

    preprocessed: Preprocessed
    rows: np.ndarray  # (n_rows,) int64, trials of the pretraining splits
    subjects: list[str]  # sorted labels of the train/val subjects; position = subject index
    subject_index: np.ndarray  # (n_trials,) int64

    def signal(self) -> dict[str, Any]:
        """The encoder signal arguments of the study (``n_outputs`` is a placeholder)."""
        info = self.preprocessed.info
        epochs = self.preprocessed.epochs  # (n_trials, C, T)
        return signal_args(
            n_chans=epochs.shape[1],
            n_times=epochs.shape[2],
            sfreq=info["sfreq"],
            n_outputs=PRETRAIN_OUTPUTS,
            n_subjects=len(self.subjects),
            chs_pos=info["ch_pos"],
        )

    def loader(self, batch_size: int, shuffle: bool) -> DataLoader:
        """Batches ``(x (B, C, T), subject (B,))`` of the pretraining trials."""
        dataset = UnlabeledDataset(self, self.rows)
        return DataLoader(
            dataset,
            batch_size=min(batch_size, len(dataset)),
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) > batch_size,
        )


def load_pretrain_data(preprocessed_dir: str | Path, splits: Sequence[str]) -> PretrainData:
    """Open a preprocessed study and select the trials of ``splits``.

    Parameters
    ----------
    preprocessed_dir : str or Path
        Stage contract 2 (epochs.npy, trials.tsv, info.json).
    splits : sequence of str
        The ``trials.tsv`` splits to pretrain on (never ``test``; the config checks it).

    Returns
    -------
    PretrainData

    Raises
    ------
    DataError
        If a file is missing or malformed, or no trial is in ``splits``.
    """
    preprocessed = read_preprocessed(preprocessed_dir)
    trials = preprocessed.trials
    rows = np.flatnonzero(trials["split"].isin(list(splits)).to_numpy()).astype(np.int64)
    if len(rows) == 0:
        raise DataError(
            f"{preprocessed.path / 'trials.tsv'}: no trial in splits {list(splits)}; found "
            f"{sorted(set(trials['split']))}"
        )
    subjects = fitted_subjects(trials)  # as the train stage indexes them
    subject_index = subject_indices(trials["subject"], subjects)
    logger.info("pretraining on %d trials of splits %s", len(rows), ", ".join(splits))
    return PretrainData(
        preprocessed=preprocessed,
        rows=rows,
        subjects=subjects,
        subject_index=subject_index,
    )


class UnlabeledDataset(Dataset):
    """Trials read one at a time from the memory-mapped epochs: ``(x (C, T), subject)``."""

    def __init__(self, data: PretrainData, rows: np.ndarray) -> None:
        self.data = data
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = int(self.rows[index])
        x = np.array(self.data.preprocessed.epochs[row], dtype=np.float32)  # (C, T)
        return torch.from_numpy(x), torch.tensor(self.data.subject_index[row])
