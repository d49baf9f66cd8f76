"""`brainrecon serve` and `brainrecon evaluate` from the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
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


def test_two_workers_each_listen_and_share_keep_alive_connections(bundle_dir):
    import psutil

    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "brainrecon"), "serve", "--bundle", str(bundle_dir),
         "--port", str(port), "--threads", "1", "--workers", "2"],
        stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stderr.readline()  # written once every worker listens
        assert "with 2 workers" in banner, banner + process.stderr.read()
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        for connection in connections:
            connection.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        held = {child: sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                           for c in child.net_connections(kind="tcp"))
                for child in psutil.Process(process.pid).children()}
        served = sorted(count for count in held.values() if count)
        assert len(served) == 2 and sum(served) == 40 and served[0] >= 8, held  # not 46 / 4
        for connection in connections:
            connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    _, running = psutil.wait_procs([child for child, count in held.items() if count], timeout=10)
    assert not running  # the workers stop with it


def test_a_worker_that_dies_stops_the_others_in_one_line(monkeypatch):
    from pipeline.serving.processes import SERVE_ENV, supervise

    monkeypatch.setenv(SERVE_ENV, json.dumps({"bundles": ["/nonexistent/bundle"],
                                              "api_key_env": "K", "max_upload_bytes": 1,
                                              "threads": 1}))
    with pytest.raises(SystemExit, match=r"worker exited on its own \(code 1\); the other "
                                         r"workers were stopped"):
        supervise("127.0.0.1", free_port(), 2, "never written\n")
