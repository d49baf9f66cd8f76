"""From predicted latents to retrieval scores; averaging and the zero-shot check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.artifacts import read_predictions, read_targets
from pipeline.errors import DataError
from pipeline.evaluation.metrics import METRICS
from pipeline.evaluation.retrieval import (
    count_repetitions,
    retrieval_scores,
)


def test_averaging_gives_one_query_per_subject_and_stimulus(make_study) -> None:
    study = make_study(n_subjects=2, n_test=6, n_reps=3)
    predictions, trials = read_predictions(study.decoder)
    latents, stimuli, _ = read_targets(study.targets)
    single = retrieval_scores(predictions, trials, latents, stimuli, average_repetitions=False)
    averaged = retrieval_scores(predictions, trials, latents, stimuli, average_repetitions=True)
    assert single.scores.shape == (2 * 6 * 3, 6)
    assert averaged.scores.shape == (2 * 6, 6)
    assert sorted(zip(averaged.query_subject, averaged.query_stimulus, strict=True)) == sorted(
        {(s, t) for s, t in zip(single.query_subject, single.query_stimulus, strict=True)}
    )
    assert count_repetitions(trials) == 3
    assert averaged.gallery == tuple(sorted(stimuli.loc[stimuli["split"] == "test", "stimulus_id"]))
    for result in (single, averaged):
        assert np.array_equal(np.array(result.gallery)[result.true_index], result.query_stimulus)
    top1 = METRICS.get("top1")
    assert top1.per_query(averaged.scores, averaged.true_index).mean() >= top1.per_query(
        single.scores, single.true_index
    ).mean()


def test_exact_predictions_retrieve_perfectly(make_study) -> None:
    study = make_study()
    latents, stimuli, _ = read_targets(study.targets)
    row_of = {stim: row for row, stim in enumerate(stimuli["stimulus_id"])}
    exact = 2.0 * latents[[row_of[stim] for stim in study.trials["stimulus_id"]]]
    result = retrieval_scores(exact, study.trials, latents, stimuli, average_repetitions=False)
    np.testing.assert_allclose(result.scores[np.arange(result.n_queries), result.true_index], 1.0)
    assert METRICS.get("top1").per_query(result.scores, result.true_index).mean() == 1.0


def test_test_stimulus_in_training_rows_is_a_zero_shot_violation(make_study) -> None:
    study = make_study()
    latents, stimuli, _ = read_targets(study.targets)
    leaked_row = study.trials[study.trials["split"] == "test"].iloc[[0]].assign(split="train")
    trials = pd.concat([study.trials, leaked_row], ignore_index=True)
    predictions = np.zeros((len(trials), latents.shape[1]))
    with pytest.raises(DataError, match="also appear in train rows"):
        retrieval_scores(predictions, trials, latents, stimuli, average_repetitions=True)


def test_test_stimulus_outside_the_targets_test_split_is_rejected(make_study) -> None:
    study = make_study()
    latents, stimuli, _ = read_targets(study.targets)
    test_id = study.trials.loc[study.trials["split"] == "test", "stimulus_id"].iloc[0]
    relabelled = stimuli.assign(split=np.where(stimuli["stimulus_id"] == test_id, "train",
                                               stimuli["split"]))
    predictions = np.zeros((len(study.trials), latents.shape[1]))
    with pytest.raises(DataError, match=rf"stimuli.tsv: .*{test_id}.*expected 'test'"):
        retrieval_scores(predictions, study.trials, latents, relabelled, average_repetitions=True)


def test_malformed_predictions_are_data_errors(make_study, predictions_writer) -> None:
    study = make_study()
    latents, _, _ = read_targets(study.targets)
    bad = predictions_writer(study.decoder.parent / "bad", np.zeros((3, 8)), study.trials)
    with pytest.raises(DataError, match=r"predictions.npy: got shape \(3, 8\)"):
        read_predictions(bad)
    with pytest.raises(DataError, match="file not found"):
        read_predictions(study.decoder.parent / "missing")
