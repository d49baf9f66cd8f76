"""Pairwise caption metrics: BLEU-4, ROUGE-L, METEOR and MiniLM sentence similarity.

METEOR matches exact words and Porter stems; WordNet synonyms are left out because WordNet
is a download (so scores are comparable across brainrecon runs, and lower than METEOR with
synonyms would give).
"""

from __future__ import annotations

import re

import numpy as np
from nltk.stem.porter import PorterStemmer
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.meteor_score import single_meteor_score

from pipeline.evaluation.generation import register_metric
from pipeline.generators.base import TextOutput


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits and apostrophes)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def _pairwise(generated: TextOutput, truth: TextOutput, score) -> np.ndarray:
    hypotheses = [tokenize(text) for text in generated.captions]
    references = [tokenize(text) for text in truth.captions]
    return np.array([[score(h, r) for r in references] for h in hypotheses], dtype=np.float64)


@register_metric("bleu4", kind="text")
def bleu4(generated: TextOutput, truth: TextOutput) -> np.ndarray:
    """Sentence BLEU-4 (uniform weights, smoothing method 1) of every (generated, true) pair."""
    smoothing = SmoothingFunction().method1
    return _pairwise(generated, truth, lambda h, r: sentence_bleu(
        [r], h, smoothing_function=smoothing) if h and r else 0.0)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l_f(hypothesis: list[str], reference: list[str]) -> float:
    """ROUGE-L F-measure (beta = 1) of one hypothesis against one reference."""
    if not hypothesis or not reference:
        return 0.0
    common = lcs_length(hypothesis, reference)
    if common == 0:
        return 0.0
    precision, recall = common / len(hypothesis), common / len(reference)
    return 2 * precision * recall / (precision + recall)


@register_metric("rouge_l", kind="text")
def rouge_l(generated: TextOutput, truth: TextOutput) -> np.ndarray:
    """ROUGE-L F-measure of every (generated, true) pair."""
    return _pairwise(generated, truth, rouge_l_f)


class _NoSynonyms:
    """A WordNet stand-in with no synonyms: METEOR then matches exact words and stems."""

    @staticmethod
    def synsets(*_args, **_kwargs) -> list:
        return []


@register_metric("meteor", kind="text")
def meteor(generated: TextOutput, truth: TextOutput) -> np.ndarray:
    """METEOR (exact and stem matches) of every (generated, true) pair."""
    stemmer, wordnet = PorterStemmer(), _NoSynonyms()
    return _pairwise(generated, truth, lambda h, r: single_meteor_score(
        r, h, stemmer=stemmer, wordnet=wordnet) if h and r else 0.0)


@register_metric("minilm_similarity", kind="text")
def minilm_similarity(generated: TextOutput, truth: TextOutput) -> np.ndarray:
    """Cosine similarity of the all-MiniLM-L6-v2 embeddings of every (generated, true) pair."""
    from pipeline.targets.minilm import embed_texts

    g = embed_texts(list(generated.captions)).astype(np.float64)  # (n, 384), unit norm
    t = embed_texts(list(truth.captions)).astype(np.float64)
    return g @ t.T
