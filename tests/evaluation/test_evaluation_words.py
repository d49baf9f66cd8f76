"""Word-level decoding from segment retrieval: membership, ranks, chance, evaluate entries."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.retrieval import RetrievalScores
from pipeline.evaluation.words import (
    WordMembership,
    with_words,
    word_chance,
    word_membership,
    word_metric,
    word_table,
    word_top_k,
)

CAPTIONS = {"s0": "the old farmer", "s1": "the boat", "s2": "a red boat near the river",
            "s3": ""}
GALLERY = ("s0", "s1", "s2", "s3")


@pytest.fixture
def membership() -> WordMembership:
    return word_membership(GALLERY, CAPTIONS)


def test_membership_lists_each_caption_word(membership):
    assert membership.words == ("a", "boat", "farmer", "near", "old", "red", "river", "the")
    the = membership.words.index("the")
    np.testing.assert_array_equal(membership.contains[:, the], [True, True, True, False])
    assert not membership.contains[3].any()


def test_a_perfect_retrieval_ranks_the_true_words_first(membership):
    scores = np.eye(4)[:3]  # queries of s0, s1, s2 (s3 holds no word)
    true_index = np.arange(3)
    top1 = word_top_k(scores, true_index, membership, 1)
    # all true words tie at the top: each is first with probability 1 / (words in the segment)
    np.testing.assert_allclose(top1, [1 / 3, 1 / 2, 1 / 6])
    np.testing.assert_allclose(word_top_k(scores, true_index, membership, 6), [1.0, 1.0, 1.0])


def test_a_wrong_retrieval_still_finds_shared_words(membership):
    scores = np.array([[0.0, 0.0, 1.0, 0.0]])  # the query of s1 retrieves s2
    value = word_top_k(scores, np.array([1]), membership, 6)
    # s1's words "the" and "boat" are both in s2: ranked among s2's six words
    assert value[0] == pytest.approx(1.0)
    assert word_top_k(scores, np.array([0]), membership, 6)[0] == pytest.approx(1 / 3)


def test_queries_without_words_are_nan_and_left_out(membership):
    scores = np.eye(4)
    values = word_top_k(scores, np.arange(4), membership, 1)
    assert np.isnan(values[3]) and np.isfinite(values[:3]).all()
    retrieval = RetrievalScores(scores, np.arange(4), np.array(GALLERY),
                                np.array(["01"] * 4), GALLERY)
    kept = with_words(retrieval, membership)
    assert kept.n_queries == 3 and list(kept.query_stimulus) == ["s0", "s1", "s2"]
    assert with_words(None, membership) is None


def test_chance_favours_frequent_words_and_matches_random_scores():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    captions = {f"s{i}": " ".join(["common", *rng.choice(words, 4, replace=False)])
                for i in range(40)}
    gallery = tuple(captions)
    membership = word_membership(gallery, captions)
    true_index = np.arange(40)
    chance = word_chance(true_index, membership, 1, seed=0)
    assert chance > 1 / len(membership.words)  # "common" wins the max-pooling from noise
    observed = np.mean([
        np.nanmean(word_top_k(rng.standard_normal((40, 40)), true_index, membership, 1))
        for _ in range(100)
    ])
    assert observed == pytest.approx(chance, abs=0.02)
    metric = word_metric(membership, true_index, 1, seed=0)
    assert metric.name == "word_top1" and metric.chance(40) == pytest.approx(chance)


def test_word_table_scores_each_word_over_the_queries_holding_it(membership):
    scores = np.array([[0.0, 0.0, 1.0, 0.0],   # s0's query retrieves s2
                       [0.0, 1.0, 0.0, 0.0],   # s1's query retrieves s1
                       [0.0, 0.0, 1.0, 0.0]])  # s2's query retrieves s2
    retrieval = RetrievalScores(scores, np.arange(3), np.array(GALLERY[:3]),
                                np.array(["01"] * 3), GALLERY)
    table = word_table({"decoder": retrieval, "oracle": None}, membership, 2).set_index("word")
    assert list(table.columns) == ["n_stimuli", "decoder"]
    assert table.index[0] == "the" and table.loc["the", "n_stimuli"] == 3
    # "boat": first of two tied words for s1's query, one of six for s2's: (1 + 2/6) / 2
    assert table.loc["boat", "decoder"] == pytest.approx(2 / 3)
    assert table.loc["farmer", "decoder"] == 0.0  # s0's words lose to s2's six
    assert table.loc["river", "decoder"] == pytest.approx(2 / 6)  # tied among s2's six
