"""Caption metrics: BLEU-4, ROUGE-L, METEOR (exact + stem) and MiniLM similarity."""

import numpy as np
import pytest

from pipeline.evaluation.generation.text import (
    bleu4,
    lcs_length,
    meteor,
    minilm_similarity,
    rouge_l,
    rouge_l_f,
    tokenize,
)
from pipeline.generators.base import TextOutput

TRUE = TextOutput(["a large red cube turned left on a blue background",
                   "a small green sphere facing forward on a white background"])


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A Red, cube.") == ["a", "red", "cube"]


def test_lcs_and_rouge_l_on_known_cases():
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    assert rouge_l_f(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert rouge_l_f(["x"], ["a", "b"]) == 0.0
    assert rouge_l_f([], ["a"]) == 0.0
    # LCS 2 of 3 generated and 2 of 4 true words: P = 2/3, R = 1/2
    assert rouge_l_f(["a", "x", "b"], ["a", "b", "c", "d"]) == pytest.approx(4 / 7)


@pytest.mark.parametrize("metric", [bleu4, rouge_l, meteor])
def test_identical_captions_score_best_and_others_lower(metric):
    scores = metric(TRUE, TRUE)
    assert scores.shape == (2, 2)
    assert np.diag(scores) == pytest.approx([1.0, 1.0], abs=1e-3)
    assert (scores[~np.eye(2, dtype=bool)] < 0.9).all()


def test_meteor_matches_stems_but_bleu_does_not():
    generated = TextOutput(["red cubes turned left"])
    truth = TextOutput(["red cube turned left"])
    assert meteor(generated, truth)[0, 0] > 0.9
    assert bleu4(generated, truth)[0, 0] < 0.6


def test_empty_caption_scores_zero():
    empty = TextOutput(["", "a small green sphere"])
    assert bleu4(empty, TRUE)[0, 0] == 0.0 and meteor(empty, TRUE)[0, 0] == 0.0


def test_minilm_similarity_prefers_the_matching_caption():
    generated = TextOutput(["a big red cube on blue", "a tiny green ball on white"])
    scores = minilm_similarity(generated, TRUE)
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]
    assert minilm_similarity(TRUE, TRUE)[0, 0] == pytest.approx(1.0, abs=1e-5)
