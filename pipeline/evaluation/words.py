"""Word-level decoding from segment retrieval: which words did the person hear?

Each test stimulus carries words (its caption: the words spoken in a speech segment). A
query's score for a word is its best score among the gallery stimuli holding that word
(max-pooling over segments); the words of the query's true stimulus are then ranked among
every word of the test captions. ``word_top{k}`` is, per query, the fraction of its true
words ranked among the ``k`` best (ties broken at random, as for :func:`top_k`), averaged
over queries whose stimulus holds at least one word.

Frequent words sit in more segments, so they win the max-pooling more often even from
random scores: chance is therefore estimated by Monte Carlo, the same metric on
independent standard normal scores (``N_CHANCE_DRAWS`` draws), not by ``k / n_words``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from pipeline.evaluation.metrics import Metric
from pipeline.evaluation.retrieval import RetrievalScores

WORD_KS = (1, 10)
TABLE_K = 10  # the k of the per-word table (words.tsv, words.png)
N_CHANCE_DRAWS = 200


@dataclass(frozen=True)
class WordMembership:
    """Which gallery stimulus holds which word.

    Attributes
    ----------
    words : tuple of str
        Every word of the gallery's captions, sorted.
    contains : ndarray of bool, shape (n_gallery, n_words)
    """

    words: tuple[str, ...]
    contains: np.ndarray


def word_membership(gallery: tuple[str, ...], captions: Mapping[str, str]) -> WordMembership:
    """Words of each gallery stimulus' caption (lower-cased, split on white space).

    Parameters
    ----------
    gallery : tuple of str
        Stimulus ids, the gallery columns.
    captions : mapping of str to str
        Caption of each stimulus id.

    Returns
    -------
    WordMembership
    """
    heard = [set(str(captions[stimulus_id]).lower().split()) for stimulus_id in gallery]
    words = tuple(sorted(set().union(*heard)))
    column = {word: index for index, word in enumerate(words)}
    contains = np.zeros((len(gallery), len(words)), dtype=bool)
    for row, segment in enumerate(heard):
        contains[row, [column[word] for word in segment]] = True
    return WordMembership(words, contains)


def word_scores(scores: np.ndarray, membership: WordMembership) -> np.ndarray:
    """Each query's best score among the stimuli holding each word. (n_query, n_words)."""
    return np.stack(
        [scores[:, holders].max(axis=1) for holders in membership.contains.T], axis=1
    )


def word_hits(
    scores: np.ndarray, true_index: np.ndarray, membership: WordMembership, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each true word of each query ranks among the ``k`` best words.

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)
    membership : WordMembership
    k : int

    Returns
    -------
    query, word : ndarray of int, shape (n_pairs,)
        One pair per (query, word of its true stimulus).
    hit : ndarray, shape (n_pairs,)
        The probability that the word ranks among the ``k`` best, ties broken at random.
    """
    by_word = word_scores(np.asarray(scores, dtype=np.float64), membership)  # (n_query, W)
    queries, words, hits = [], [], []
    for query, (row, truth) in enumerate(zip(by_word, true_index, strict=True)):
        true_words = np.flatnonzero(membership.contains[truth])
        true_scores = row[true_words][:, None]  # (n_true, 1)
        above = (row[None] > true_scores).sum(axis=1)
        tied = (row[None] == true_scores).sum(axis=1) - 1
        queries.append(np.full(true_words.size, query))
        words.append(true_words)
        hits.append(np.clip((k - above) / (tied + 1), 0.0, 1.0))
    if not queries:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(queries), np.concatenate(words), np.concatenate(hits)


def word_top_k(
    scores: np.ndarray, true_index: np.ndarray, membership: WordMembership, k: int
) -> np.ndarray:
    """Per query, the fraction of its true stimulus' words ranked among the ``k`` best words.

    Parameters
    ----------
    scores : ndarray, shape (n_query, n_gallery)
    true_index : ndarray of int, shape (n_query,)
    membership : WordMembership
    k : int

    Returns
    -------
    ndarray, shape (n_query,)
        NaN for a query whose stimulus holds no word.
    """
    query, _, hit = word_hits(scores, true_index, membership, k)
    n_query = len(true_index)
    counts = np.bincount(query, minlength=n_query)
    sums = np.bincount(query, weights=hit, minlength=n_query)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def word_table(models: Mapping[str, RetrievalScores | None], membership: WordMembership,
               k: int) -> pd.DataFrame:
    """Each test word's ``word_top{k}`` per model, over the queries whose stimulus holds it.

    Parameters
    ----------
    models : mapping of str to RetrievalScores or None
        Model name -> its scores (None: left out).
    membership : WordMembership
    k : int

    Returns
    -------
    pandas.DataFrame
        word, n_stimuli (test stimuli holding it), one column per model; most frequent first.
    """
    table = pd.DataFrame({"word": membership.words,
                          "n_stimuli": membership.contains.sum(axis=0)})
    for name, retrieval in models.items():
        if retrieval is None:
            continue
        _, word, hit = word_hits(retrieval.scores, retrieval.true_index, membership, k)
        counts = np.bincount(word, minlength=len(membership.words))
        sums = np.bincount(word, weights=hit, minlength=len(membership.words))
        table[name] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return table.sort_values(["n_stimuli", "word"], ascending=[False, True],
                             ignore_index=True)


def word_chance(
    true_index: np.ndarray, membership: WordMembership, k: int, seed: int
) -> float:
    """Mean ``word_top{k}`` from independent standard normal scores (Monte Carlo).

    Parameters
    ----------
    true_index : ndarray of int, shape (n_query,)
        The queries' true stimuli (only those holding words count).
    membership : WordMembership
    k : int
    seed : int

    Returns
    -------
    float
    """
    rng = np.random.default_rng(seed)
    n_gallery = membership.contains.shape[0]
    draws = [
        np.nanmean(word_top_k(rng.standard_normal((len(true_index), n_gallery)), true_index,
                              membership, k))
        for _ in range(N_CHANCE_DRAWS)
    ]
    return float(np.mean(draws))


def with_words(retrieval: RetrievalScores | None, membership: WordMembership) -> (
        RetrievalScores | None):
    """The queries of ``retrieval`` whose true stimulus holds at least one word."""
    if retrieval is None:
        return None
    return retrieval.queries(membership.contains[retrieval.true_index].any(axis=1))


def word_metric(membership: WordMembership, true_index: np.ndarray, k: int, seed: int) -> Metric:
    """``word_top{k}`` as a metric over these queries, its chance estimated once.

    Parameters
    ----------
    membership : WordMembership
    true_index : ndarray of int
        The queries' true stimuli, for the chance estimate.
    k : int
    seed : int
        Seed of the chance estimate.

    Returns
    -------
    Metric
    """
    chance = word_chance(true_index, membership, k, seed)
    return Metric(
        name=f"word_top{k}",
        per_query=partial(word_top_k, membership=membership, k=k),
        chance=lambda n_gallery: chance,
        label=f"word top-{k} accuracy",
    )
