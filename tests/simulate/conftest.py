"""A tiny simulated study shared by the simulator tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.simulate.options import SimulateConfig


def tiny_config(**changes: object) -> SimulateConfig:
    """2 subjects, 12/4/4 stimuli, test stimuli shown twice, small images, few noise epochs."""
    base = {
        "n_subjects": 2,
        "stimuli": {"train": 12, "val": 4, "test": 4},
        "test_repetitions": 2,
        "image_size": 32,
        "n_sources": 8,
        "oracle": {"n_noise_epochs": 200},
    }
    return SimulateConfig.model_validate({**base, **changes})


def oracle_top1(npz: Path | dict, average: bool = True) -> float:
    """Top-1 of the Gaussian template-matching oracle on one subject's oracle file.

    Scores every test stimulus k by -(x - mu_k)^T P (x - mu_k), P the inverse of
    noise_cov / n_repetitions, where x is a trial (or the average of a stimulus' trials).
    """
    data = dict(np.load(npz)) if not isinstance(npz, dict) else npz
    ids, trial_ids = data["stimulus_ids"], data["trial_stimulus_ids"]
    templates = data["templates"].reshape(len(ids), -1)  # (K, D)
    trials = data["trials"].reshape(len(trial_ids), -1)  # (N, D)
    labels = np.array([list(ids).index(t) for t in trial_ids])
    n_repetitions = 1
    if average:
        trials = np.stack([trials[labels == k].mean(axis=0) for k in range(len(ids))])
        n_repetitions = int(np.sum(labels == 0))
        labels = np.arange(len(ids))
    precision = np.linalg.inv(data["noise_cov"] / n_repetitions)  # (D, D)
    projected = trials @ precision  # (N, D)
    scores = (
        2 * projected @ templates.T
        - np.einsum("kd,kd->k", templates @ precision, templates)[None, :]
        - np.einsum("nd,nd->n", projected, trials)[:, None]
    )  # (N, K) = -(x - mu_k)^T P (x - mu_k)
    return float(np.mean(scores.argmax(axis=1) == labels))


@pytest.fixture(scope="session")
def make_config():
    """The :func:`tiny_config` factory."""
    return tiny_config


@pytest.fixture(scope="session")
def oracle_score():
    """The :func:`oracle_top1` helper."""
    return oracle_top1


@pytest.fixture(scope="session")
def tiny_cfg() -> SimulateConfig:
    return tiny_config()


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory, tiny_cfg: SimulateConfig) -> Path:
    """The BIDS root of the tiny study."""
    from pipeline.simulate.modalities import simulate_study

    root = tmp_path_factory.mktemp("tiny") / "raw"
    simulate_study(tiny_cfg, root)
    return root
