"""`brainrecon serve` and `brainrecon evaluate` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_serving_web import free_port

from pipeline.cli import main
from pipeline.serving.decode import as_epochs


def test_evaluate_command_writes_the_metrics_and_prints_the_table(bundle_dir, tiny_study_paths,
                                                                   tmp_path, capsys):
    main(["evaluate", "--bundle", str(bundle_dir), "--data",
          str(tiny_study_paths["preprocessed"]), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert f"bundle eeg on {tiny_study_paths['preprocessed']}" in out and "top1" in out
    metrics = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    assert metrics["encoder"] == "conv" and metrics["baseline_encoder"] == "ridge"


def test_evaluate_command_reports_a_changed_bundle_in_one_line(bundle_copy, tmp_path, capsys):
    (bundle_copy / "metrics" / "evaluate.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["evaluate", "--bundle", str(bundle_copy), "--data", str(tmp_path),
              "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert err.startswith("brainrecon: error: ") and "evaluate.json: sha256 differs" in err


def test_serve_command_answers_on_loopback_with_its_api_key(bundle_dir):
    port = free_port()
    env = dict(os.environ, SERVE_KEY="k")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "brainrecon"), "serve",
         "--bundle", str(bundle_dir.parent), "--port", str(port),
         "--api-key-env", "SERVE_KEY", "--threads", "1"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "brainrecon serve did not answer in 120 s"
                time.sleep(0.2)
        assert health.json()["bundles"] == ["eeg"]
        assert httpx.get(f"{url}/api/bundles").status_code == 401
        assert httpx.get(f"{url}/api/bundles", headers={"X-API-Key": "k"}).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.parametrize(("shape", "expected"), [((5, 7), (5, 7, 1)), ((7, 1), (1, 7, 1))])
def test_fmri_betas_may_be_uploaded_as_trial_by_voxel(shape, expected):
    signal_ = {"n_chans": 7, "n_times": 1}
    assert as_epochs(np.ones(shape), signal_, "betas").shape == expected


def test_serve_needs_at_least_one_worker(bundle_dir):
    from pipeline.errors import ParamsError
    from pipeline.serving.processes import serve

    with pytest.raises(ParamsError, match=r"--workers: got 0; expected at least 1"):
        serve([bundle_dir], "127.0.0.1", free_port(), "BRAINRECON_API_KEY", 2**20, 1, 0)
