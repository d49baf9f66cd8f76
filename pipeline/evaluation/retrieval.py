"""From predicted latents to a zero-shot retrieval score matrix over the test stimuli."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pipeline.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalScores:
    """Scores of every query against the gallery of test stimuli.

    Attributes
    ----------
    scores : ndarray, shape (n_query, n_gallery)
        Higher means more similar.
    true_index : ndarray of int, shape (n_query,)
        The gallery column of each query's true stimulus.
    query_stimulus : ndarray of str, shape (n_query,)
        The true stimulus id of each query (the unit the bootstrap resamples).
    query_subject : ndarray of str, shape (n_query,)
        The subject of each query.
    gallery : tuple of str
        The stimulus id of each gallery column.
    """

    scores: np.ndarray
    true_index: np.ndarray
    query_stimulus: np.ndarray
    query_subject: np.ndarray
    gallery: tuple[str, ...]

    @property
    def n_queries(self) -> int:
        """Number of queries (rows of ``scores``)."""
        return int(self.scores.shape[0])

    def queries(self, keep: np.ndarray) -> RetrievalScores:
        """The queries where ``keep`` (bool, (n_query,)) is true, against the same gallery."""
        return replace(self, scores=self.scores[keep], true_index=self.true_index[keep],
                       query_stimulus=self.query_stimulus[keep],
                       query_subject=self.query_subject[keep])


def zero_shot_gallery(
    trials: pd.DataFrame,
    stimuli: pd.DataFrame,
    trials_name: str = "trials.tsv",
    stimuli_name: str = "stimuli.tsv",
) -> tuple[str, ...]:
    """Return the sorted test stimulus ids, after checking that the test is zero-shot.

    Parameters
    ----------
    trials : DataFrame
        The predictions' trials table (subject, stimulus_id, split, ...).
    stimuli : DataFrame
        The targets' stimuli table (stimulus_id, split, ...).
    trials_name, stimuli_name : str
        Where the tables came from, for error messages.

    Returns
    -------
    tuple of str
        The unique stimulus ids of the test rows, sorted: the gallery order.

    Raises
    ------
    DataError
        If there is no test row, a test stimulus also appears in a train row, or a test
        stimulus is missing from the targets or not in their test split.
    """
    test_ids = sorted(set(trials.loc[trials["split"] == "test", "stimulus_id"]))
    if not test_ids:
        splits = sorted(set(trials["split"]))
        raise DataError(f"{trials_name}: no row with split 'test'; found splits {splits}")
    seen = set(trials.loc[trials["split"] == "train", "stimulus_id"]) & set(test_ids)
    if seen:
        raise DataError(
            f"{trials_name}: test stimuli {sorted(seen)[:5]} also appear in train rows; "
            "expected test stimuli never seen in training (zero-shot)"
        )
    target_split = dict(zip(stimuli["stimulus_id"], stimuli["split"], strict=True))
    missing = [stimulus for stimulus in test_ids if stimulus not in target_split]
    if missing:
        raise DataError(f"{stimuli_name}: test stimuli {missing[:5]} not found; expected a row")
    wrong = {stim: target_split[stim] for stim in test_ids if target_split[stim] != "test"}
    if wrong:
        first = dict(list(wrong.items())[:5])
        raise DataError(
            f"{stimuli_name}: test stimuli of the predictions have split {first}; expected 'test'"
        )
    return tuple(test_ids)


def count_repetitions(trials: pd.DataFrame) -> int:
    """Return the number of test repetitions per (subject, stimulus).

    When the count varies, the median (rounded) is returned and a warning is logged.
    """
    test = trials[trials["split"] == "test"]
    counts = test.groupby(["subject", "stimulus_id"]).size()
    if counts.nunique() > 1:
        logger.warning(
            "test repetitions per subject and stimulus vary from %d to %d; naming the "
            "averaged metrics after the median", counts.min(), counts.max(),
        )
    return int(round(float(counts.median())))


def cosine_similarity(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Cosine similarity of every query (n_query, dim) to every gallery row (n_gallery, dim)."""
    queries = np.asarray(queries, dtype=np.float64)
    gallery = np.asarray(gallery, dtype=np.float64)
    eps = np.finfo(np.float64).tiny
    queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), eps)
    gallery = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), eps)
    return queries @ gallery.T  # (n_query, n_gallery)


def retrieval_scores(
    predictions: np.ndarray,
    trials: pd.DataFrame,
    latents: np.ndarray,
    stimuli: pd.DataFrame,
    average_repetitions: bool,
    trials_name: str = "trials.tsv",
    stimuli_name: str = "stimuli.tsv",
) -> RetrievalScores:
    """Score the test queries against the test stimuli's target latents (cosine).

    Parameters
    ----------
    predictions : ndarray, shape (n_rows, dim)
        Predicted latents, one row per row of ``trials``.
    trials : DataFrame
        The predictions' trials (subject, stimulus_id, split); only test rows are scored.
    latents : ndarray, shape (n_stimuli, dim)
        Target latents, one row per row of ``stimuli``.
    stimuli : DataFrame
        The targets' stimuli table (stimulus_id, split).
    average_repetitions : bool
        If true, one query per (subject, stimulus): the mean of that subject's predictions
        over the stimulus's repetitions; else one query per test trial.
    trials_name, stimuli_name : str
        Where the tables came from, for error messages.

    Returns
    -------
    RetrievalScores
        Gallery = the test stimuli in sorted id order.

    Raises
    ------
    DataError
        If the test is not zero-shot (see :func:`zero_shot_gallery`) or the dimensions differ.
    """
    gallery_ids = zero_shot_gallery(trials, stimuli, trials_name, stimuli_name)
    if predictions.shape[1] != latents.shape[1]:
        raise DataError(
            f"{trials_name}: predicted latents have dim {predictions.shape[1]}; "
            f"expected the targets' dim {latents.shape[1]}"
        )
    row_of = {stimulus: row for row, stimulus in enumerate(stimuli["stimulus_id"])}
    gallery = np.asarray(latents[[row_of[stim] for stim in gallery_ids]])  # (n_gallery, dim)

    is_test = (trials["split"] == "test").to_numpy()
    test = trials[is_test]
    test_predictions = np.asarray(predictions[np.flatnonzero(is_test)], dtype=np.float64)
    if average_repetitions:
        codes, keys = pd.MultiIndex.from_frame(test[["subject", "stimulus_id"]]).factorize(
            sort=True
        )
        sums = np.zeros((len(keys), test_predictions.shape[1]))  # (n_query, dim)
        np.add.at(sums, codes, test_predictions)
        queries = sums / np.bincount(codes)[:, None]  # (n_query, dim)
        query_subject = np.asarray(keys.get_level_values(0), dtype=str)
        query_stimulus = np.asarray(keys.get_level_values(1), dtype=str)
    else:
        queries = test_predictions  # (n_query, dim)
        query_subject = test["subject"].to_numpy(dtype=str)
        query_stimulus = test["stimulus_id"].to_numpy(dtype=str)
    column_of = {stimulus: column for column, stimulus in enumerate(gallery_ids)}
    return RetrievalScores(
        scores=cosine_similarity(queries, gallery),
        true_index=np.array([column_of[stim] for stim in query_stimulus], dtype=np.int64),
        query_stimulus=query_stimulus,
        query_subject=query_subject,
        gallery=gallery_ids,
    )
