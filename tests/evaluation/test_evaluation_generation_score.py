"""Pairwise generation metrics -> per-stimulus values, chance levels and report entries."""

import numpy as np
import pytest

from pipeline.evaluation.generation import GenerationMetric
from pipeline.evaluation.generation.score import (
    chance_level,
    metric_entry,
    metrics_of_kind,
    per_stimulus,
)


def _metric(statistic="matched", higher_is_better=True, matrix=None):
    return GenerationMetric("image", lambda generated, truth: matrix(generated, truth),
                            statistic, higher_is_better)


def test_per_stimulus_reads_the_diagonal_for_matched_metrics():
    scores = np.array([[0.9, 0.1], [0.3, 0.5]])
    np.testing.assert_allclose(per_stimulus(_metric(), scores), [0.9, 0.5])
    assert chance_level(_metric(), scores) == pytest.approx(0.2)


def test_two_way_and_top1_follow_the_direction_of_the_metric():
    distances = np.array([[0.0, 1.0, 2.0], [3.0, 1.0, 0.5], [1.0, 2.0, 0.1]])
    lower = _metric("two_way", higher_is_better=False)
    np.testing.assert_allclose(per_stimulus(lower, distances), [1.0, 0.5, 1.0])
    higher = _metric("two_way", higher_is_better=True)
    np.testing.assert_allclose(per_stimulus(higher, distances), [0.0, 0.5, 0.0])
    top1 = _metric("top1", higher_is_better=False)
    np.testing.assert_allclose(per_stimulus(top1, distances), [1.0, 0.0, 1.0])
    assert chance_level(top1, distances) == pytest.approx(1 / 3)
    assert chance_level(lower, distances) == 0.5


def test_per_stimulus_rejects_a_non_square_matrix():
    with pytest.raises(ValueError, match="expected square"):
        per_stimulus(_metric(), np.zeros((2, 3)))


def test_metric_entry_reports_every_source_beside_chance_and_ceiling():
    rng = np.random.default_rng(0)
    n = 30
    truth = rng.normal(size=(n, 8))
    sources = {"decoder": truth + rng.normal(scale=1.0, size=truth.shape),
               "baseline": rng.normal(size=truth.shape), "ceiling": truth}

    def correlation(generated, true):
        g = (generated - generated.mean(1, keepdims=True))
        t = (true - true.mean(1, keepdims=True))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        return g @ t.T

    entry, values = metric_entry(_metric(matrix=correlation), sources, truth, 500, 0.95, 0)
    assert set(values) == set(sources) and values["decoder"].shape == (n,)
    assert entry["ceiling"] == pytest.approx(1.0)
    assert entry["decoder_ci"][0] > entry["chance"] and entry["beats_chance"]
    assert entry["baseline_ci"][0] < entry["chance"] < entry["baseline_ci"][1]
    expected = (entry["decoder"] - entry["chance"]) / (entry["ceiling"] - entry["chance"])
    assert entry["of_ceiling"] == pytest.approx(expected, abs=1e-5)


def test_a_decoder_at_chance_does_not_beat_it():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(25, 4))
    entry, _ = metric_entry(_metric(matrix=lambda g, t: -np.linalg.norm(
        g[:, None] - t[None], axis=2)), {"decoder": rng.normal(size=truth.shape)}, truth,
        500, 0.95, 0)
    assert entry["beats_chance"] is False
    assert entry["of_ceiling"] is None


@pytest.mark.parametrize("kind, expected", [
    ("image", {"pixcorr", "ssim", "effnet_early_two_way", "effnet_late_two_way",
               "effnet_early_retrieval", "effnet_late_retrieval"}),
    ("text", {"bleu4", "rouge_l", "meteor", "minilm_similarity"}),
])
def test_metrics_of_kind_lists_the_registered_metrics(kind, expected):
    assert expected <= set(metrics_of_kind(kind))


def test_of_ceiling_runs_from_chance_to_ceiling_for_distances_too():
    truth = np.arange(10, dtype=float)[:, None] * np.ones((1, 3))
    distance = _metric(higher_is_better=False,
                       matrix=lambda g, t: np.abs(g[:, None, 0] - t[None, :, 0]))
    entry, _ = metric_entry(distance, {"decoder": truth + 1.0, "ceiling": truth}, truth,
                            100, 0.95, 0)
    assert entry["ceiling"] == 0.0 and entry["decoder"] == 1.0
    expected = (1.0 - entry["chance"]) / (0.0 - entry["chance"])
    assert entry["of_ceiling"] == pytest.approx(expected) and 0 < expected < 1
    assert entry["beats_chance"]


def test_the_generation_table_marks_scores_above_chance_and_distances():
    from pipeline.evaluation.generation.report import format_generation

    entry = {"decoder": 0.1, "decoder_ci": [0.05, 0.15], "baseline": 0.2, "baseline_ci": None,
             "ceiling": 0.01, "ceiling_ci": [0.0, 0.02], "chance": 0.3, "of_ceiling": 0.69,
             "beats_chance": True, "higher_is_better": False}
    table = format_generation({"n_test_stimuli": 5, "shape": {"generator": "parametric",
                                                               "chamfer": entry}})
    row = next(line for line in table.splitlines() if line.startswith("shape"))
    assert "chamfer (lower is better)" in row and "0.100 [0.050, 0.150] *" in row
    assert "0.690" in row and "test stimuli: 5" in table
