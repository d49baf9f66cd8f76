"""crossval.folds: subject (leave one subject out), with held-out subjects predicted as unseen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline.evaluation.crossval_fit as crossval_fit
from pipeline.errors import DataError
from pipeline.evaluation.crossval import crossval
from pipeline.evaluation.crossval_folds import make_folds
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.io import write_json, write_tsv

CLASSES = ("a", "b")
N_CHANS, N_TIMES = 4, 3


def subject_trials(n_subjects: int, n_runs: int = 2, per_class: int = 6) -> pd.DataFrame:
    """``per_class`` trials of each class in each run of each subject."""
    rows = [{"subject": f"{subject:02d}", "session": "n/a", "run": f"{run:02d}",
             "stimulus_id": name, "split": "train", "repetition": 0, "onset": float(index)}
            for subject in range(1, n_subjects + 1) for run in range(1, n_runs + 1)
            for name in CLASSES for index in range(per_class)]
    return pd.DataFrame(rows)


def test_subject_folds_leave_each_subject_out_and_select_across_the_others():
    trials = subject_trials(4)
    folds = make_folds(trials, "subject", n_folds=5, inner_folds=5, seed=0)
    subjects = trials["subject"].to_numpy()
    assert [sorted(set(subjects[fold.test])) for fold in folds] == [["01"], ["02"], ["03"],
                                                                     ["04"]]
    for fold in folds:
        assert not set(subjects[fold.train]) & set(subjects[fold.test])
        assert len(fold.train) + len(fold.test) == len(trials)
        assert len(fold.inner) == 3  # one per training subject
        for fit, val in fold.inner:
            assert len(set(subjects[val])) == 1 and not set(subjects[fit]) & set(subjects[val])
            assert not (set(fit) | set(val)) & set(fold.test)


def test_subject_folds_need_three_subjects():
    with pytest.raises(DataError, match=r"2 subject\(s\); expected at least 3 for "
                                        "leave-one-subject-out"):
        make_folds(subject_trials(2), "subject", 5, 5, 0)


def write_study(root: Path, trials: pd.DataFrame) -> tuple[Path, Path]:
    """Trials = class pattern (shared by subjects) + noise; random class latents."""
    rng = np.random.default_rng(0)
    label = trials["stimulus_id"].map({name: i for i, name in enumerate(CLASSES)}).to_numpy()
    patterns = rng.normal(size=(len(CLASSES), N_CHANS, N_TIMES))
    x = 2.0 * patterns[label] + rng.normal(size=(len(trials), N_CHANS, N_TIMES))
    pre, targets = root / "preprocessed", root / "targets"
    pre.mkdir(parents=True)
    targets.mkdir()
    np.save(pre / "epochs.npy", x.astype(np.float32))
    write_tsv(trials, pre / "trials.tsv")
    write_json({"sfreq": 100.0, "tmin": 0.0, "ch_names": [f"c{i}" for i in range(N_CHANS)],
                "ch_pos": rng.normal(scale=0.05, size=(N_CHANS, 3)).tolist()}, pre / "info.json")
    np.save(targets / "latents.npy", rng.normal(size=(len(CLASSES), 4)).astype(np.float32))
    write_tsv(pd.DataFrame({"stimulus_id": CLASSES, "split": "train"}), targets / "stimuli.tsv")
    write_json({"name": "random", "dim": 4}, targets / "info.json")
    return pre, targets


def test_leave_one_subject_out_crossval_predicts_held_out_subjects_as_unseen(
        tmp_path, monkeypatch):
    pre, targets = write_study(tmp_path, subject_trials(3))
    calls = []

    def spy(model, epochs, rows, subject_index, **kwargs):
        calls.append((model.input.weight.shape[0], np.unique(subject_index).tolist()))
        return predict_rows(model, epochs, rows, subject_index, **kwargs)

    predict_rows = crossval_fit.predict_rows
    monkeypatch.setattr(crossval_fit, "predict_rows", spy)
    cfg = CrossvalConfig.model_validate({
        "folds": "subject", "n_bootstrap": 100, "blocks": None,
        "encoders": {"mlp": {"hidden": 16, "depth": 0, "dropout": 0.0}},
        "train": {"max_epochs": 30, "batch_size": 16, "num_threads": 1, "lr": 0.01},
        "baselines": {"logistic": {}},
    })
    crossval(cfg, pre, targets, tmp_path / "metrics.json", tmp_path / "plots")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["folds"] == "subject" and metrics["n_folds"] == 3
    assert calls == [(2, [2])] * 3  # two subject layers; the test subject is the unseen one
    assert metrics["baselines"]["logistic"]["trial"]["ci"][0] > metrics["chance"]
    assert metrics["encoders"]["mlp"]["trial"]["accuracy"] > 0.75


def test_riemannian_recentring_carries_band_power_across_subjects_with_other_gains(tmp_path):
    """Class = which channel has more power; each subject sees the channels through its own
    electrode gains. Leave-one-subject-out needs the held-out subject re-centred."""
    rng = np.random.default_rng(0)
    trials = subject_trials(4, per_class=8)
    label = trials["stimulus_id"].map({name: i for i, name in enumerate(CLASSES)}).to_numpy()
    subject = trials["subject"].astype(int).to_numpy() - 1
    power = np.ones((len(trials), N_CHANS))
    power[np.arange(len(trials)), label] = 2.5  # class a: channel 0, class b: channel 1
    gains = np.exp(1.5 * rng.normal(size=(4, N_CHANS)))  # (subjects, channels)
    x = (gains[subject] * np.sqrt(power))[:, :, None] * rng.normal(size=(len(trials), N_CHANS,
                                                                         60))
    pre, targets = write_study(tmp_path, trials)
    np.save(pre / "epochs.npy", x.astype(np.float32))
    accuracy = {}
    for recentre in (False, True):
        cfg = CrossvalConfig(folds="subject", blocks=None, zscore_by_run=False, n_bootstrap=50,
                             encoders={"riemann": {"recentre": recentre}}, baselines={})
        metrics = crossval(cfg, pre, targets, tmp_path / f"{recentre}.json", tmp_path / "plots")
        accuracy[recentre] = metrics["encoders"]["riemann"]["trial"]["accuracy"]
        adapted = [entry.get("adapted") for entry in metrics["encoders"]["riemann"]["selected"]]
        assert adapted == ([[{"recentred_unseen_on": 32}]] * 4 if recentre else [None] * 4)
    assert accuracy[True] >= 0.9 and accuracy[True] - accuracy[False] >= 0.2
