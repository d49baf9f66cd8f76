"""Seeded splits by stimulus: every unique stimulus id gets exactly one split."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

FRACTION_TOLERANCE = 1e-6


def _check_fractions(fractions: Mapping[str, float]) -> None:
    """Raise ValueError unless ``fractions`` are non-negative and sum to one."""
    if not fractions:
        raise ValueError("got no split fractions; expected e.g. {'train': 0.8, 'test': 0.2}")
    negative = {name: value for name, value in fractions.items() if value < 0}
    if negative:
        raise ValueError(f"got negative split fraction(s) {negative}; expected values >= 0")
    total = math.fsum(fractions.values())
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        raise ValueError(
            f"got split fractions {dict(fractions)} summing to {total:g}; expected them to sum to 1"
        )


def _split_counts(n_items: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Share ``n_items`` between splits by largest remainder, none empty when possible."""
    names = list(fractions)
    exact = np.array([fractions[name] * n_items for name in names])  # (n_splits,)
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n_items - counts.sum()]] += 1
    wanted = np.array([fractions[name] > 0 for name in names])
    while n_items >= wanted.sum() and np.any(wanted & (counts == 0)):
        empty = int(np.flatnonzero(wanted & (counts == 0))[0])
        donor = int(np.argmax(counts))
        counts[donor] -= 1
        counts[empty] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def assign_splits(
    stimulus_ids: Sequence[str], fractions: Mapping[str, float], seed: int
) -> dict[str, str]:
    """Assign each unique stimulus to one split, at random but reproducibly.

    Splitting by stimulus (not by trial) keeps every repetition of a test stimulus out of
    training, so test scores are zero-shot.

    Parameters
    ----------
    stimulus_ids : sequence of str
        Stimulus ids, repeated or not (one per trial is fine).
    fractions : mapping of str to float
        Split name -> fraction of the unique stimuli; must sum to 1.
    seed : int
        Seed of the shuffle. The result depends only on the set of ids, the fractions and
        the seed, not on the order of ``stimulus_ids``.

    Returns
    -------
    dict of str to str
        Stimulus id -> split name. Every split with a positive fraction gets at least one
        stimulus when there are at least as many stimuli as such splits.

    Raises
    ------
    ValueError
        If a fraction is negative or the fractions do not sum to 1.
    """
    _check_fractions(fractions)
    unique = sorted(set(map(str, stimulus_ids)))
    order = np.random.default_rng(seed).permutation(len(unique))
    counts = _split_counts(len(unique), fractions)
    labels = np.repeat(list(counts), list(counts.values()))  # (n_unique,)
    return {unique[index]: str(label) for index, label in zip(order, labels, strict=True)}
