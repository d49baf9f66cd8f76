"""benchmarks/encoders.py on a tiny simulated study: the table, a failing encoder, reuse."""

import json

import pytest
from benchmark_scripts import import_benchmark

from pipeline.encoders.base import signal_args


@pytest.fixture(scope="module")
def bench(project_root):
    """The benchmark script, imported as a module."""
    return import_benchmark(project_root, "encoders")


def tiny_args(tmp_path, *encoders):
    return ["--subjects", "1", "--stimuli", "24", "8", "8", "--repetitions", "2",
            "--targets", "simulator", "--max-epochs", "1", "--n-bootstrap", "20",
            "--threads", "1", "--work", str(tmp_path / "work"),
            "--results", str(tmp_path / "results" / "encoders.json"), "--encoders", *encoders]


def test_table_keeps_the_others_when_one_encoder_fails(bench, tmp_path, monkeypatch):
    fit = bench.fit_encoder

    def failing_fit(name, *args, **kwargs):
        if name == "mlp":
            raise RuntimeError("boom")
        return fit(name, *args, **kwargs)

    monkeypatch.setattr(bench, "fit_encoder", failing_fit)
    results = bench.main(tiny_args(tmp_path, "ridge", "mlp"))
    ridge, mlp = results["runs"]
    assert (mlp["status"], mlp["reason"]) == ("failed", "RuntimeError: boom")
    assert ridge["status"] == "ok"
    top1 = bench.metric(ridge, "top1")
    assert top1["chance"] == pytest.approx(1 / 8)
    assert top1["ratio_to_oracle"] == pytest.approx(top1["decoder"] / top1["oracle"], abs=1e-5)
    assert ridge["train"]["n_params"] > 0 and ridge["train"]["fit_seconds"] >= 0
    assert not results["study"]["reused"]
    written = json.loads((tmp_path / "results" / "encoders.json").read_text())
    assert [run["status"] for run in written["runs"]] == ["ok", "failed"]
    table = (tmp_path / "results" / "encoders.md").read_text()
    assert "| mlp | 0 | | | | | | | failed: RuntimeError: boom |" in table
    assert f"| ridge | 0 | {top1['decoder']:.3f} [" in table

    again = bench.main(tiny_args(tmp_path, "ridge"))  # same study: generated once
    assert again["study"]["reused"]
    assert bench.metric(again["runs"][0], "top1") == top1


def test_cannot_apply_gives_the_reason(bench):
    signal = signal_args(4, 10, 100.0, 3, 1, [[0.0, 0.0, 0.0]] * 4)
    assert bench.cannot_apply("ridge", {}, signal) is None
    reason = bench.cannot_apply("ridge", {"bogus": 1}, signal)
    assert reason.startswith("ParamsError:") and "'bogus'" in reason
