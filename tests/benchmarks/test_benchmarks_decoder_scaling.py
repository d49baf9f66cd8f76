"""benchmarks/decoder_scaling.py on a tiny simulated study: nested training sets, the rows."""

import json

import pandas as pd
import pytest
from benchmark_scripts import import_benchmark


@pytest.fixture(scope="module")
def bench(project_root):
    """The benchmark script, imported as a module."""
    return import_benchmark(project_root, "decoder_scaling")


def test_sizes_are_nested_and_rows_score_decoder_ridge_and_oracle(bench, tmp_path):
    results_path = tmp_path / "results" / "decoder_scaling.json"
    results = bench.main([
        "--sizes", "12", "24", "--subjects", "1", "--val", "8", "--test", "8",
        "--repetitions", "2", "--targets", "simulator", "--max-epochs", "2",
        "--n-bootstrap", "20", "--threads", "1", "--work", str(tmp_path / "work"),
        "--effects", "all", "--snr", "2.0", "--results", str(results_path)])
    assert json.loads(results_path.read_text()) == results
    simulated = json.loads((tmp_path / "work" / "full" / "study.json").read_text())[
        "sections"]["study"]["options"]["simulated"]
    assert (simulated["snr"], simulated["variability"]["latency_ms"]) == (2.0, 10.0)
    assert (results["study"]["snr"], results["study"]["effects"]) == (2.0, "all")
    assert results_path.with_suffix(".png").stat().st_size > 10_000
    assert [row["n_train"] for row in results["rows"]] == [12, 24]
    kept = {}
    for row in results["rows"]:
        trials = pd.read_csv(tmp_path / "work" / f"n{row['n_train']}" / "preprocessed" /
                             "trials.tsv", sep="\t", dtype=str)
        train = trials[trials["split"] == "train"]
        kept[row["n_train"]] = set(train["stimulus_id"])
        assert len(kept[row["n_train"]]) == row["n_train"] and len(train) == row["n_train_trials"]
        assert set(trials["split"]) == {"train", "val", "test", "unused"} - (
            {"unused"} if row["n_train"] == 24 else set())
        for key in ("decoder", "ridge", "oracle"):
            low, high = row[f"{key}_ci"]
            assert 0 <= low <= row[f"{key}_top1"] <= high <= 1
        assert row["chance"] == pytest.approx(1 / 8)
    assert kept[12] < kept[24]  # the smaller training set is part of the larger one
    oracle = {row["oracle_top1"] for row in results["rows"]}
    assert len(oracle) == 1, "the oracle knows the simulation: the same at every size"
    with pytest.raises(ValueError, match="24 training stimuli; cannot keep 48"):
        bench.subset_study(tmp_path / "work" / "full", tmp_path / "n48", 48, seed=0)
