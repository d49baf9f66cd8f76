"""Seeded splits by stimulus."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipeline.evaluation.splits import assign_splits

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
IDS = [f"stim{index:04d}" for index in range(100)]


def test_every_stimulus_gets_one_split_in_proportion() -> None:
    trial_ids = IDS * 4  # repetitions of each stimulus
    splits = assign_splits(trial_ids, FRACTIONS, seed=0)
    assert sorted(splits) == IDS
    assert Counter(splits.values()) == {"train": 80, "val": 10, "test": 10}


def test_stable_for_a_seed_and_independent_of_input_order() -> None:
    shuffled = list(np.random.default_rng(5).permutation(IDS))
    assert assign_splits(IDS, FRACTIONS, seed=1) == assign_splits(shuffled, FRACTIONS, seed=1)
    assert assign_splits(IDS, FRACTIONS, seed=1) != assign_splits(IDS, FRACTIONS, seed=2)


def test_every_split_non_empty_when_possible() -> None:
    splits = assign_splits(["a", "b", "c"], {"train": 0.9, "val": 0.05, "test": 0.05}, seed=0)
    assert sorted(splits.values()) == ["test", "train", "val"]
    uneven = assign_splits(IDS[:7], {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0)
    assert sum(1 for split in uneven.values() if split == "train") in (3, 4)
    assert set(uneven.values()) == {"train", "val", "test"}


def test_fractions_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match=r"'train': 0.8.*'test': 0.3.*sum to 1"):
        assign_splits(IDS, {"train": 0.8, "test": 0.3}, seed=0)
    with pytest.raises(ValueError, match="negative"):
        assign_splits(IDS, {"train": 1.2, "test": -0.2}, seed=0)
