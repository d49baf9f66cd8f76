"""benchmarks/serving.py on the tiny bundle: every row measured, no failed request."""

from __future__ import annotations

import importlib.util
import json


def test_serving_benchmark_reports_latency_and_load(project_root, bundle_dir, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "bench_serving", project_root / "benchmarks" / "serving.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--bundle", str(bundle_dir), "--calls", "20", "--clients", "4",
                          "--requests", "3", "--workers", "1", "2",
                          "--results", str(tmp_path / "serving")])
    assert json.loads((tmp_path / "serving.json").read_text()) == results
    assert len(results["in_process"]) == 3
    for row in results["in_process"].values():
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert len(results["http"]) == 4  # decode and health, served by 1 and by 2 workers
    for row in results["http"].values():
        assert row["requests"] == 12 and row["failed"] == 0 and row["requests_per_s"] > 0
    table = (tmp_path / "serving.md").read_text()
    assert "| decode one epoch, 1 worker |" in table and "| decode one epoch, 2 workers |" in table
