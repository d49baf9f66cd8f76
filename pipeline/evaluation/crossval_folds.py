"""Folds of a cross-validation: by run, by subject or stratified, with inner selection folds.

Every split here returns ``(train_rows, test_rows)`` index arrays into the trials table. A
block (consecutive trials of one stimulus in one run) is never cut between training and
testing, so temporally correlated trials (fMRI volumes of a block) cannot leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from pipeline.errors import DataError

RUN_COLUMNS = ("subject", "session", "run")
MIN_STD = 1e-12


def _key(trials: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer code per distinct combination of ``columns`` (missing columns ignored)."""
    present = [column for column in columns if column in trials.columns]
    if not present:
        return np.arange(len(trials))
    frame = trials[present].astype(str)
    return pd.MultiIndex.from_frame(frame).factorize()[0].astype(np.int64)  # (n_trials,)


def run_ids(trials: pd.DataFrame) -> np.ndarray:
    """The run of each trial, as one code per (subject, session, run)."""
    return _key(trials, list(RUN_COLUMNS))


def block_ids(trials: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """The block of each trial: one code per (subject, session, run, stimulus, ``column``).

    Returns None when ``column`` is None or not in the table (the study has no blocks).
    """
    if column is None or column not in trials.columns:
        return None
    return _key(trials, [*RUN_COLUMNS, "stimulus_id", column])


@dataclass(frozen=True)
class Fold:
    """One outer fold: the trials to fit on, their selection folds, the trials to test."""

    train: np.ndarray  # (n_train,) rows
    test: np.ndarray  # (n_test,) rows
    inner: list[tuple[np.ndarray, np.ndarray]]  # selection splits, rows of the whole table


def subject_ids(trials: pd.DataFrame) -> np.ndarray:
    """The subject of each trial, as one code per subject."""
    return _key(trials, ["subject"])


def _splits(kind: str, labels: np.ndarray, groups: dict[str, np.ndarray],
            blocks: np.ndarray | None, n_folds: int, seed: int
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split positions ``0..len(labels)-1``: leave one group out, or stratified k-fold.

    ``groups`` maps a fold kind (run, subject) to the group of each position. Stratified
    folds keep each block whole when there are blocks.
    """
    positions = np.zeros((len(labels), 1))
    if kind in groups:
        return list(LeaveOneGroupOut().split(positions, labels, groups[kind]))
    if blocks is None:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(positions, labels))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(positions, labels, blocks))


def _inner(kind: str, rows: np.ndarray, labels: np.ndarray, groups: dict[str, np.ndarray],
           blocks: np.ndarray | None, n_folds: int, seed: int
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Selection splits of the training ``rows``: grouped k-fold (run, subject) or stratified."""
    if kind in groups:
        inner_groups = groups[kind][rows]
        n_splits = min(n_folds, len(np.unique(inner_groups)))
        splits = GroupKFold(n_splits=n_splits).split(rows, labels[rows], inner_groups)
    else:
        inner_blocks = None if blocks is None else blocks[rows]
        splits = _splits("stratified", labels[rows], {}, inner_blocks, n_folds, seed)
    return [(rows[fit], rows[val]) for fit, val in splits]


def make_folds(trials: pd.DataFrame, kind: str, n_folds: int, inner_folds: int, seed: int,
               blocks: np.ndarray | None = None, source: str = "trials.tsv") -> list[Fold]:
    """Return the outer folds of the trials, each with its inner selection splits.

    Parameters
    ----------
    trials : DataFrame
        The trials (subject, session, run, stimulus_id, ...).
    kind : {"run", "subject", "stratified"}
        ``run``: leave one run out (runs of the same subject and session are distinct);
        ``subject``: leave one subject out, hyperparameters selected across the other
        subjects; ``stratified``: stratified k-fold over trials, or over blocks when
        ``blocks`` is given.
    n_folds : int
        Number of stratified folds.
    inner_folds : int
        Number of selection splits inside each training set (fewer when fewer runs).
    seed : int
        Seed of the stratified shuffles.
    blocks : ndarray of int, shape (n_trials,), optional
        Block of each trial; a block is never split.
    source : str
        The trials table, for error messages.

    Returns
    -------
    list of Fold

    Raises
    ------
    DataError
        If there are too few runs (``run``), subjects (``subject``) or trials per class
        (``stratified``).
    """
    labels = trials["stimulus_id"].astype(str).to_numpy()
    left_out = {"run": run_ids(trials), "subject": subject_ids(trials)}  # kind -> groups
    if kind in left_out and len(np.unique(left_out[kind])) < 3:
        raise DataError(
            f"{source}: {len(np.unique(left_out[kind]))} {kind}(s); expected at least 3 for "
            f"leave-one-{kind}-out folds with inner selection folds (set crossval.folds: "
            "stratified)"
        )
    groups = np.arange(len(trials)) if blocks is None else np.asarray(blocks)
    smallest = int(pd.Series(groups).groupby(labels).nunique().min())
    if kind == "stratified" and smallest < n_folds:
        raise DataError(
            f"{source}: a class has {smallest} blocks (or trials); expected at least "
            f"{n_folds}, one per stratified fold (lower crossval.n_folds)"
        )
    folds = []
    for train, test in _splits(kind, labels, left_out, blocks, n_folds, seed):
        inner = _inner(kind, train, labels, left_out, blocks, inner_folds, seed)
        folds.append(Fold(train=train, test=test, inner=inner))
    return folds


def zscore_by_run(x: np.ndarray, runs: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """Z-score every feature within its run, with statistics of the ``fit_rows`` of that run.

    A run with no row in ``fit_rows`` (the held-out run of leave-one-run-out) is scaled with
    its own statistics: this uses the run's data, never its labels.

    Parameters
    ----------
    x : ndarray, shape (n_trials, ...)
        Features of every trial.
    runs : ndarray of int, shape (n_trials,)
        The run of each trial.
    fit_rows : ndarray of int
        The training rows.

    Returns
    -------
    ndarray, shape of ``x``
        float32 z-scores; a constant feature becomes 0.
    """
    out = np.empty(x.shape, dtype=np.float32)
    fitted = np.zeros(len(x), dtype=bool)
    fitted[fit_rows] = True
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        source = rows[fitted[rows]] if fitted[rows].any() else rows
        mean = x[source].mean(axis=0)
        std = x[source].std(axis=0)
        out[rows] = (x[rows] - mean) / np.where(std > MIN_STD, std, np.inf)
    return out
