"""Trials and target latents for fitting an encoder: reading, checks, datasets, loaders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from pipeline.artifacts import FIT_SPLITS, Preprocessed, read_preprocessed, read_targets
from pipeline.encoders.subjects import fitted_subjects, subject_indices
from pipeline.errors import DataError, ParamsError

STD_FLOOR = 0.1  # fraction of the mean standard deviation
MIN_STD = 1e-12


@dataclass(frozen=True)
class SplitArrays:
    """The trials of one split, loaded in memory (for closed-form fits)."""

    x: np.ndarray  # (N, C, T) float32
    subject: np.ndarray  # (N,) int64
    target: np.ndarray  # (N, D) float32, standardised
    stimulus: np.ndarray  # (N,) int64, row of the stimulus in the targets


@dataclass(frozen=True)
class EncoderData:
    """Everything an encoder is fitted on: train and validation trials, standardised targets.

    Only train and validation trials are ever indexed in ``epochs``; the test split is
    not read. The target standardisation uses the training stimuli only.
    """

    preprocessed: Preprocessed
    subjects: list[str]  # sorted labels of the train/val subjects; position = subject index
    subject_index: np.ndarray  # (n_trials,) int64; len(subjects) for a subject not fitted on
    stimulus_index: np.ndarray  # (n_trials,) int64, -1 outside train/val
    target: np.ndarray  # (n_stimuli, D) float32, standardised
    target_mean: np.ndarray  # (D,)
    target_std: np.ndarray  # (D,)
    target_rms: float  # root mean square norm of the standardised training targets
    target_info: dict[str, Any]

    def rows(self, split: str) -> np.ndarray:
        """Indices of the trials of ``split`` (train or val)."""
        return np.flatnonzero(self.preprocessed.trials["split"].to_numpy() == split)

    def arrays(self, split: str) -> SplitArrays:
        """Load the trials of ``split`` in memory."""
        rows = self.rows(split)
        return SplitArrays(
            x=np.asarray(self.preprocessed.epochs[rows], dtype=np.float32),
            subject=self.subject_index[rows],
            target=self.target[self.stimulus_index[rows]],
            stimulus=self.stimulus_index[rows],
        )


def load_encoder_data(preprocessed_dir: str | Path, targets_dir: str | Path) -> EncoderData:
    """Match trials to target latents and standardise the latents on training stimuli.

    A dimension whose training standard deviation is below ``STD_FLOOR`` times the mean
    one is divided by that floor instead, so near-constant dimensions (dead units of a
    network) do not blow up on stimuli that were not seen in training.

    Parameters
    ----------
    preprocessed_dir : str or Path
        Stage contract 2 (epochs.npy, trials.tsv, info.json).
    targets_dir : str or Path
        Stage contract 3 (latents.npy, stimuli.tsv, info.json).

    Returns
    -------
    EncoderData

    Raises
    ------
    DataError
        If a split has no trial, or a train/val trial's stimulus has no latent.
    """
    preprocessed = read_preprocessed(preprocessed_dir)
    latents, stimuli, target_info = read_targets(targets_dir)
    trials = preprocessed.trials
    for split in FIT_SPLITS:
        if not (trials["split"] == split).any():
            raise DataError(
                f"{preprocessed.path / 'trials.tsv'}: no trial with split {split!r}; found "
                f"{sorted(set(trials['split']))}"
            )
    row_of = {stimulus: row for row, stimulus in enumerate(stimuli["stimulus_id"])}
    fitted = trials["split"].isin(FIT_SPLITS).to_numpy()
    unknown = sorted(set(trials.loc[fitted, "stimulus_id"]) - set(row_of))
    if unknown:
        raise DataError(
            f"{Path(targets_dir) / 'stimuli.tsv'}: no latent for stimuli {unknown[:5]} of "
            f"train/val trials in {preprocessed.path / 'trials.tsv'}"
        )
    stimulus_index = np.where(
        fitted, trials["stimulus_id"].map(row_of).fillna(-1).to_numpy(), -1
    ).astype(np.int64)
    subjects = fitted_subjects(trials)  # held-out subjects are unseen
    subject_index = subject_indices(trials["subject"], subjects)
    train_stimuli = np.unique(stimulus_index[(trials["split"] == "train").to_numpy()])
    mean = latents[train_stimuli].mean(axis=0)
    std = latents[train_stimuli].std(axis=0)
    std = np.maximum(std, STD_FLOOR * std.mean() + MIN_STD)
    target = ((latents - mean) / std).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.sum(target[train_stimuli] ** 2, axis=1))))
    return EncoderData(
        preprocessed=preprocessed,
        subjects=subjects,
        subject_index=subject_index,
        stimulus_index=stimulus_index,
        target=target,
        target_mean=mean.astype(np.float32),
        target_std=std.astype(np.float32),
        target_rms=rms,
        target_info=target_info,
    )


class TrialDataset(Dataset):
    """Trials read one at a time from the memory-mapped epochs.

    Items are ``(x (C, T), subject, target (D,), stimulus)``.
    """

    def __init__(self, data: EncoderData, rows: np.ndarray) -> None:
        self.data = data
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        row = self.rows[index]
        stimulus = self.data.stimulus_index[row]
        return (
            torch.from_numpy(np.array(self.data.preprocessed.epochs[row], dtype=np.float32)),
            torch.tensor(self.data.subject_index[row]),
            torch.from_numpy(self.data.target[stimulus]),
            torch.tensor(stimulus),
        )


class EpochSampler(Sampler[int]):
    """One process's share of a seeded permutation of the training trials, per epoch.

    Each epoch draws one permutation of all ``n_items`` from ``(seed, epoch)``, keeps whole
    global batches, and gives rank ``r`` of ``world_size`` the positions ``r, r + W, ...``.
    Batch ``i`` of every rank then holds positions ``i * B`` to ``(i + 1) * B`` of the
    permutation between them: the same global batches whatever the number of processes.

    Parameters
    ----------
    n_items : int
        Size of the dataset.
    global_batch : int
        The global batch size ``B`` (a multiple of ``world_size``).
    seed : int
        With the epoch (:meth:`set_epoch`, called by Lightning), seeds the permutation.
    rank, world_size : int
        This process's global rank and the number of processes.
    """

    def __init__(self, n_items: int, global_batch: int, seed: int, rank: int = 0,
                 world_size: int = 1) -> None:
        self.n_items = n_items
        self.n_used = n_items - n_items % global_batch  # whole global batches
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the permutation of ``epoch`` next."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_used // self.world_size

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n_items)
        return iter(order[:self.n_used][self.rank::self.world_size].tolist())


class EncoderDataModule(pl.LightningDataModule):
    """Training (seeded shuffle, split across processes) and validation loaders.

    ``batch_size`` is the global batch: each of the W processes loads ``batch_size / W``
    trials per step (:class:`EpochSampler`). A training set smaller than one batch is one
    batch (rounded down to a multiple of W). Every process loads the whole validation set.

    Parameters
    ----------
    data : EncoderData
        Train and validation trials.
    batch_size : int
        The global batch size.
    seed : int
        Seeds each epoch's shuffle, with the epoch.
    """

    def __init__(self, data: EncoderData, batch_size: int, seed: int = 0) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self) -> DataLoader:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        if self.batch_size % world:
            raise ParamsError(
                f"train.batch_size: got {self.batch_size} for {world} processes; expected a "
                "multiple of the number of processes (devices x num_nodes)"
            )
        dataset = TrialDataset(self.data, self.data.rows("train"))
        global_batch = min(self.batch_size, len(dataset) - len(dataset) % world)
        if global_batch == 0:
            raise DataError(f"{self.data.preprocessed.path / 'trials.tsv'}: {len(dataset)} "
                            f"training trials for {world} processes; expected at least one each")
        sampler = EpochSampler(len(dataset), global_batch, self.seed, rank, world)
        return DataLoader(dataset, batch_size=global_batch // world, sampler=sampler,
                          generator=self._generator())

    def val_dataloader(self) -> DataLoader:
        dataset = TrialDataset(self.data, self.data.rows("val"))
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=False,
                          generator=self._generator())

    def _generator(self) -> torch.Generator:
        """A loader's own generator, so that starting an epoch leaves the global state alone.

        A resumed run then draws the same dropout masks as an uninterrupted one.
        """
        return torch.Generator().manual_seed(self.seed)
