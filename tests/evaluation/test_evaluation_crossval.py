"""Cross-validated classification: folds by run or stratified, encoders and baselines in folds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import pipeline.evaluation.crossval as crossval_module
from pipeline.config import parse_section
from pipeline.encoders import FITTERS
from pipeline.errors import DataError, ParamsError
from pipeline.evaluation.classifiers import CLASSIFIERS, ClassifierOptions
from pipeline.evaluation.crossval import crossval
from pipeline.evaluation.crossval_folds import block_ids, make_folds, run_ids, zscore_by_run
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.io import write_json, write_tsv

CLASSES = ("cat", "face", "house")
N_CHANS, N_TIMES, BLOCK = 6, 2, 3
RIDGE = {"ridge": {"alphas": [1.0, 100.0]}}


def synthetic_trials(n_runs: int, blocks_per_class: int = 1) -> pd.DataFrame:
    """Blocks of BLOCK consecutive trials, one class per block, every class in every run."""
    rows = []
    for run in range(1, n_runs + 1):
        order = [name for _ in range(blocks_per_class) for name in CLASSES]
        for block, name in enumerate(np.random.default_rng(run).permutation(order)):
            for volume in range(BLOCK):
                rows.append({"subject": "01", "session": "n/a", "run": f"{run:02d}",
                             "stimulus_id": name, "split": "train", "repetition": 0,
                             "onset": 30.0 * block + 2.0 * volume, "block": block})
    return pd.DataFrame(rows)


def write_study(root: Path, trials: pd.DataFrame, signal: float, seed: int = 0,
                n_times: int = N_TIMES) -> tuple[Path, Path]:
    """Write preprocessed trials (class pattern * signal + noise) and class latents."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(len(CLASSES), N_CHANS, n_times))  # (K, C, T)
    label = trials["stimulus_id"].map({name: i for i, name in enumerate(CLASSES)}).to_numpy()
    run_offset = rng.normal(size=(trials["run"].nunique(), N_CHANS, 1))  # (R, C, 1)
    x = (signal * patterns[label] + rng.normal(size=(len(trials), N_CHANS, n_times))
         + 3.0 * run_offset[trials["run"].astype(int).to_numpy() - 1])  # (N, C, T)
    pre, targets = root / "preprocessed", root / "targets"
    pre.mkdir(parents=True)
    targets.mkdir()
    np.save(pre / "epochs.npy", x.astype(np.float32))
    write_tsv(trials, pre / "trials.tsv")
    write_json({"sfreq": 100.0, "tmin": 0.0, "ch_names": [f"c{i}" for i in range(N_CHANS)],
                "ch_pos": rng.normal(scale=0.05, size=(N_CHANS, 3)).tolist(),
                "source": {"name": "Synthetic", "license": "CC BY 4.0", "authors": ["A"]}},
               pre / "info.json")
    np.save(targets / "latents.npy", rng.normal(size=(len(CLASSES), 5)).astype(np.float32))
    write_tsv(pd.DataFrame({"stimulus_id": CLASSES, "split": "train", "image": "n/a",
                            "caption": CLASSES}), targets / "stimuli.tsv")
    write_json({"name": "random", "dim": 5}, targets / "info.json")
    return pre, targets


def run(tmp_path: Path, pre: Path, targets: Path | None, **settings) -> dict:
    """Cross-validate with small bootstrap settings; return the metrics read back."""
    cfg = CrossvalConfig.model_validate({"n_bootstrap": 200, **settings})
    crossval(cfg, pre, targets, tmp_path / "metrics.json", tmp_path / "plots")
    return json.loads((tmp_path / "metrics.json").read_text())


def test_separable_classes_are_decoded_above_chance_by_encoder_and_baseline(
        tmp_path, monkeypatch):
    credits = []

    def spying(plot):
        def spy(*args):
            credits.append(args[-1])  # the data's credit line
            return plot(*args)
        return spy

    for name in ("plot_accuracies", "plot_confusions"):
        monkeypatch.setattr(crossval_module, name, spying(getattr(crossval_module, name)))
    pre, targets = write_study(tmp_path, synthetic_trials(n_runs=4), signal=1.5)
    metrics = run(tmp_path, pre, targets, encoders=RIDGE, baselines={"logistic": {}})
    assert credits == ["Data: Synthetic (A), CC BY 4.0"] * 2
    assert (metrics["n_folds"], metrics["n_trials"], metrics["n_blocks"]) == (4, 36, 12)
    assert metrics["chance"] == pytest.approx(1 / 3)
    assert metrics["ci"] == "percentile bootstrap over blocks"
    for entry in (metrics["encoders"]["ridge"], metrics["baselines"]["logistic"]):
        assert entry["trial"]["accuracy"] > 0.8
        assert entry["trial"]["ci"][0] > metrics["chance"] and entry["above_chance"]
        assert entry["block"]["n"] == 12 and entry["block"]["accuracy"] >= 0.9
        assert len(entry["fold_accuracy"]) == 4
    assert {"alpha", "val_loss"} <= set(metrics["encoders"]["ridge"]["selected"][0])
    assert metrics["best_encoder"] == "ridge" and metrics["best_baseline"] == "logistic"
    assert {path.name for path in (tmp_path / "plots").iterdir()} == {"accuracy.png",
                                                                     "confusion.png"}


def test_shuffled_labels_score_at_chance(tmp_path):
    trials = synthetic_trials(n_runs=6, blocks_per_class=2)
    pre, targets = write_study(tmp_path, trials, signal=1.5)
    shuffled = trials.copy()
    rng = np.random.default_rng(1)
    for _, rows in shuffled.groupby("run").groups.items():  # permute whole blocks' labels
        blocks = shuffled.loc[rows, "block"]
        mapping = dict(zip(blocks.unique(), rng.permutation(
            shuffled.loc[rows].groupby("block")["stimulus_id"].first().to_numpy()), strict=True))
        shuffled.loc[rows, "stimulus_id"] = blocks.map(mapping).to_numpy()
    write_tsv(shuffled, pre / "trials.tsv")
    metrics = run(tmp_path, pre, targets, encoders=RIDGE, baselines={"logistic": {}})
    for entry in (metrics["encoders"]["ridge"], metrics["baselines"]["logistic"]):
        low, high = entry["trial"]["ci"]
        assert low <= metrics["chance"] <= high and not entry["above_chance"]
        assert abs(entry["trial"]["accuracy"] - metrics["chance"]) < 0.15


def test_run_folds_never_share_a_run_and_stratified_folds_keep_blocks():
    trials = synthetic_trials(n_runs=5, blocks_per_class=2)
    runs = run_ids(trials)
    folds = make_folds(trials, "run", n_folds=5, inner_folds=3, seed=0)
    assert len(folds) == 5
    assert sorted(np.concatenate([fold.test for fold in folds])) == list(range(len(trials)))
    for fold in folds:
        assert not set(runs[fold.train]) & set(runs[fold.test])
        assert len(fold.inner) == 3
        for fit, val in fold.inner:
            assert set(fit) | set(val) == set(fold.train)
            assert not set(runs[fit]) & set(runs[val])
    blocks = block_ids(trials, "block")
    assert len(np.unique(blocks)) == 5 * 6
    for fold in make_folds(trials, "stratified", n_folds=3, inner_folds=2, seed=0,
                           blocks=blocks):
        assert not set(blocks[fold.train]) & set(blocks[fold.test])
        assert set(trials["stimulus_id"].iloc[fold.test]) == set(CLASSES)
        for fit, val in fold.inner:
            assert not set(blocks[fit]) & set(blocks[val])


def test_too_few_runs_or_trials_are_reported():
    with pytest.raises(DataError, match=r"trials\.tsv: 2 run\(s\); expected at least 3"):
        make_folds(synthetic_trials(n_runs=2), "run", 5, 3, 0)
    with pytest.raises(DataError, match="a class has 2 blocks .*expected at least 5"):
        make_folds(synthetic_trials(n_runs=2), "stratified", 5, 3, 0,
                   blocks=block_ids(synthetic_trials(n_runs=2), "block"))
    assert block_ids(synthetic_trials(n_runs=2), None) is None
    assert block_ids(synthetic_trials(n_runs=2), "event") is None


def test_zscore_by_run_uses_training_rows_and_own_statistics_for_held_out_runs():
    x = np.arange(12, dtype=float).reshape(6, 2, 1) * [[[1.0], [0.0]]]  # channel 1 constant
    runs = np.array([0, 0, 0, 1, 1, 1])
    out = zscore_by_run(x, runs, fit_rows=np.array([0, 1, 3, 4]))
    assert np.allclose(out[[0, 1], 0, 0], [-1.0, 1.0]) and out[2, 0, 0] == pytest.approx(3.0)
    held_out = zscore_by_run(x, runs, fit_rows=np.array([0, 1, 2]))
    assert np.allclose(held_out[3:, 0, 0].mean(), 0.0) and np.allclose(held_out[:, 1], 0.0)


class RowSpy(ClassifierMixin, BaseEstimator):
    """Records the trial ids (feature 0) it is fitted on and predicts for."""

    log: list[tuple[str, frozenset]] = []

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        RowSpy.log.append(("fit", frozenset(x[:, 0, 0].astype(int))))
        return self

    def predict_proba(self, x):
        RowSpy.log.append(("predict", frozenset(x[:, 0, 0].astype(int))))
        return np.full((len(x), len(self.classes_)), 1.0 / len(self.classes_))


class SpyClassifier:
    """A registered-classifier stand-in around :class:`RowSpy`."""

    Options = ClassifierOptions
    needs_time = False

    @staticmethod
    def build(options):
        return RowSpy(), {}


def test_models_are_fitted_on_training_trials_only(tmp_path, monkeypatch):
    trials = synthetic_trials(n_runs=4)
    pre, targets = write_study(tmp_path, trials, signal=1.0)
    x = np.load(pre / "epochs.npy")
    x[:, 0, 0] = np.arange(len(x))  # the trial id, read back by the spy
    np.save(pre / "epochs.npy", x)
    monkeypatch.setitem(CLASSIFIERS._entries, "spy", SpyClassifier)
    RowSpy.log = []
    seen = []
    fit_closed_form = FITTERS.get("closed_form")

    def closed_form_spy(model, data, cfg, out_dir):
        seen.append((data.rows("train"), data.rows("val"), data.rows("test"),
                     data.stimulus_index.copy()))
        return fit_closed_form(model, data, cfg, out_dir)

    monkeypatch.setitem(FITTERS._entries, "closed_form", closed_form_spy)
    metrics = run(tmp_path, pre, targets, encoders=RIDGE, baselines={"spy": {}},
                  zscore_by_run=False)
    runs = trials["run"].to_numpy()
    fits, predictions = RowSpy.log[0::2], RowSpy.log[1::2]
    assert [kind for kind, _ in fits] == ["fit"] * 4
    assert [kind for kind, _ in predictions] == ["predict"] * 4
    for (_, fitted), (_, tested) in zip(fits, predictions, strict=True):
        assert not fitted & tested and len(fitted | tested) == len(trials)
        assert not set(runs[list(fitted)]) & set(runs[list(tested)])
    for train, val, test, stimulus_index in seen:
        assert not set(runs[train]) & set(runs[test]) and not set(runs[val]) & set(runs[test])
        assert (stimulus_index[test] == -1).all()  # held-out labels never reach the fitter
    assert metrics["baselines"]["spy"]["trial"]["n"] == len(trials)


def test_closed_form_alpha_is_chosen_over_every_inner_split_then_refitted_on_the_fold(
        tmp_path, monkeypatch):
    from pipeline.encoders.ridge import RidgeEncoder

    calls = []
    fit = RidgeEncoder.fit_closed_form

    def recording(self, train, val):
        history, selected = fit(self, train, val)
        calls.append({"n_train": len(train.x), "alphas": list(self.options.alphas),
                      "history": history.set_index("alpha")["val_rank"]})
        return history, selected

    monkeypatch.setattr(RidgeEncoder, "fit_closed_form", recording)
    trials = synthetic_trials(n_runs=4)
    pre, targets = write_study(tmp_path, trials, signal=0.6)
    metrics = run(tmp_path, pre, targets, encoders={"ridge": {"alphas": [0.01, 1e6]}},
                  baselines={"logistic": {}}, inner_folds=3)
    selected = metrics["encoders"]["ridge"]["selected"]
    per_fold = 3 + 1  # one fit per inner split, then the refit
    assert len(calls) == per_fold * len(selected)
    for index, details in enumerate(selected):
        inner, refit = calls[index * per_fold:index * per_fold + 3], calls[index * per_fold + 3]
        mean = pd.concat([call["history"] for call in inner], axis=1).mean(axis=1)
        assert all(call["alphas"] == [0.01, 1e6] for call in inner)
        assert all(call["n_train"] < refit["n_train"] for call in inner)
        assert refit["n_train"] == len(trials) * 3 // 4  # every trial of the 3 training runs
        assert refit["alphas"] == [details["alpha"]] == [float(mean.idxmin())]
        assert details["inner_scores"] == {f"{alpha:g}": pytest.approx(score, abs=1e-6)
                                           for alpha, score in mean.items()}


def test_csp_on_single_sample_trials_is_refused(tmp_path):
    pre, _ = write_study(tmp_path, synthetic_trials(n_runs=3), signal=1.0, n_times=1)
    with pytest.raises(ParamsError, match=r"crossval\.baselines\.csp: needs epochs with time"):
        run(tmp_path, pre, None, encoders={}, baselines={"csp": {}})


def test_encoders_need_targets_with_every_class(tmp_path):
    pre, targets = write_study(tmp_path, synthetic_trials(n_runs=3), signal=1.0)
    with pytest.raises(DataError, match="encoders are set but no targets"):
        run(tmp_path, pre, None, encoders=RIDGE)
    write_tsv(pd.DataFrame({"stimulus_id": ["cat", "face", "dog"], "split": "train",
                            "image": "n/a", "caption": "x"}), targets / "stimuli.tsv")
    with pytest.raises(DataError, match=r"stimuli\.tsv: no latent for classes \['house'\]"):
        run(tmp_path, pre, targets, encoders=RIDGE)


def test_crossval_params_name_unknown_models_and_allow_switching_off():
    with pytest.raises(ParamsError, match=r"crossval\.baselines: unknown classifier 'cps'"):
        parse_section(CrossvalConfig, {"baselines": {"cps": {}}})
    with pytest.raises(ParamsError, match=r"crossval\.baselines: csp\.n_comp: unknown key"):
        parse_section(CrossvalConfig, {"baselines": {"csp": {"n_comp": 2}}})
    with pytest.raises(ParamsError, match="expected at least one model"):
        parse_section(CrossvalConfig, {"encoders": {"ridge": None}, "baselines": {}})
    cfg = parse_section(CrossvalConfig, {"baselines": {"logistic": None, "tangent": {}}})
    assert cfg.active("baselines") == {"tangent": {}}
    assert cfg.train_config().seed == cfg.seed


@pytest.mark.slow
def test_crossval_stage_writes_metrics_and_plots(tmp_path, project_root):
    pre, targets = write_study(tmp_path, synthetic_trials(n_runs=3), signal=1.5)
    (tmp_path / "params.yaml").write_text(
        "crossval: {encoders: {ridge: {alphas: [10.0]}}, baselines: {logistic: {}}, "
        "n_bootstrap: 50}\n")
    command = [sys.executable, str(project_root / "stages" / "crossval.py"),
               "--params", str(tmp_path / "params.yaml"), "--preprocessed", str(pre),
               "--targets", str(targets), "--metrics", str(tmp_path / "m" / "crossval.json"),
               "--plots", str(tmp_path / "plots")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m" / "crossval.json").read_text())
    assert metrics["n_folds"] == 3 and set(metrics["encoders"]) == {"ridge"}
    assert (tmp_path / "plots" / "confusion.png").stat().st_size > 0
