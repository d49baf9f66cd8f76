"""Benchmark: decoding latency of a served bundle, in process and under load over HTTP.

1. In process, one thread: the bundle's decoder on one epoch of its examples, and the same
   architecture built for a 1 s window at the bundle's rate (random weights: latency depends
   on the architecture only), beside the bundle's ridge baseline on its epoch. Median and p99
   over ``--calls`` calls after warm-up; the real-time target is 10 ms per window.
2. Over HTTP on loopback: ``brainrecon serve`` in its own process, once per ``--workers``
   count (uvicorn worker processes sharing the port; default 1 and 2); ``--clients`` concurrent
   clients each send ``--requests`` decode requests (one epoch as .npy, top-5 among the test
   stimuli), then the same load on ``/api/health`` (the HTTP stack alone, the baseline). Each
   client is one keep-alive connection, opened before the clock starts, that sends a request
   serialised once and reads the status line and the body's length (asyncio streams, no HTTP
   client library): the load generator's own cost stays small, though it shares the machine's
   cores with the server.
   Throughput, p50 / p99 latency and the count of failed requests.

Results: a markdown table on stdout and ``benchmarks/results/serving.{json,md}``.

Usage::

    dvc repro export@eeg                      # the bundle (models/decoders/eeg)
    python benchmarks/serving.py              # about a minute on 2 CPU cores
    python benchmarks/serving.py --bundle models/decoders/meg --clients 50 --requests 20
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch

from pipeline.encoders.base import build_encoder
from pipeline.encoders.subjects import subject_indices
from pipeline.io import read_json, write_json
from pipeline.serving.bundle import Bundle, load_bundle

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "serving"
REAL_TIME_MS = 10.0


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Median and p99 of durations, in milliseconds."""
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3)}


@torch.no_grad()
def time_model(model: torch.nn.Module, window: torch.Tensor, subject: torch.Tensor, calls: int
               ) -> dict[str, float]:
    """Latency of ``model(window, subject)`` over ``calls`` calls, after 20 warm-up calls."""
    model.eval()
    for _ in range(20):
        model(window, subject)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        model(window, subject)
        seconds.append(time.perf_counter() - start)
    return percentiles(seconds)


def in_process(bundle: Bundle, calls: int) -> dict[str, Any]:
    """Latency of one window through the decoder, a 1 s build of it, and the baseline."""
    signal = bundle.signal
    epoch = torch.from_numpy(bundle.examples.epochs[:1])  # (1, C, T)
    subject = torch.from_numpy(subject_indices([str(bundle.examples.trials["subject"][0])],
                                               bundle.subjects))
    config = read_json(bundle.root / "encoder" / "config.json")
    one_second = max(int(round(float(signal["sfreq"]))), 1)
    shape = {**config["signal"], "n_times": one_second}
    rows = {
        f"decoder ({config['encoder']}), {signal['n_times']} samples":
            time_model(bundle.encoder, epoch, subject, calls),
        f"decoder architecture, 1 s ({one_second} samples)":
            time_model(build_encoder(config["encoder"], shape, config["options"]),
                       torch.randn(1, signal["n_chans"], one_second), subject, calls),
    }
    if bundle.baseline is not None:
        rows[f"baseline (ridge), {signal['n_times']} samples"] = \
            time_model(bundle.baseline, epoch, subject, calls)
    return rows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(bundle_dir: Path, port: int, threads: int, workers: int, log: Path
                 ) -> subprocess.Popen:
    """``brainrecon serve`` of one bundle in its own process(es), its stderr in ``log``;
    returns once it has said it serves (with several workers: once every one listens, so
    that the clients' connections spread over all of them) and answers."""
    command = [str(Path(sys.executable).parent / "brainrecon"), "serve", "--bundle",
               str(bundle_dir), "--port", str(port), "--threads", str(threads),
               "--workers", str(workers)]
    env = {key: value for key, value in os.environ.items() if key != "BRAINRECON_API_KEY"}
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stderr=stderr)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"brainrecon serve exited with {process.returncode}: "
                             f"{log.read_text().strip()}")
        try:
            if "serving" in log.read_text():
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("brainrecon serve did not answer in 120 s")


def serialised(url: str, request: dict[str, Any]) -> bytes:
    """``request`` (httpx.Request arguments) as the bytes of one HTTP/1.1 keep-alive request."""
    built = httpx.Request(**{**request, "url": url + request["url"]})
    built.read()
    target = built.url.raw_path.decode()
    head = [f"{built.method} {target} HTTP/1.1"] + [
        f"{name}: {value}" for name, value in built.headers.items()
        if name.lower() != "connection"] + ["Connection: keep-alive"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + built.content


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
                   ) -> int:
    """Send ``request`` on an open connection and read the whole answer; its status code."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


async def load(url: str, request: dict[str, Any], clients: int, requests: int
               ) -> dict[str, Any]:
    """``clients`` concurrent clients, ``requests`` each; throughput, latency, failures.

    Each client holds one keep-alive connection, opened before the clock starts, and sends
    the request serialised once: the load generator parses a status line and a length,
    nothing more, so its own cost per request stays small beside the server's.
    """
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port
    payload = serialised(url, request)
    seconds: list[float] = []
    failures = 0
    connections = [await asyncio.open_connection(host, port) for _ in range(clients)]

    async def one_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal failures
        for sent in range(requests):
            start = time.perf_counter()
            try:
                failures += await exchange(reader, writer, payload) != 200
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                failures += requests - sent  # the connection is lost, and what it had left
                return
            finally:
                seconds.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(one_client(*connection) for connection in connections))
    wall = time.perf_counter() - began
    for _, writer in connections:
        writer.close()
    return {"requests": clients * requests, "failed": failures, "seconds": round(wall, 2),
            "requests_per_s": round(len(seconds) / wall, 1), **percentiles(seconds)}


def over_http(bundle: Bundle, clients: int, requests: int, threads: int, workers: int
              ) -> dict[str, Any]:
    """The decode and health loads against ``bundle`` served by ``workers`` processes."""
    buffer = io.BytesIO()
    np.save(buffer, bundle.examples.epochs[:1])
    decode = {"method": "POST", "url": f"/api/bundles/{bundle.name}/decode",
              "files": {"epochs": ("epoch.npy", buffer.getvalue())},
              "data": {"k": "5", "gallery": "test",
                       "subject": str(bundle.examples.trials["subject"][0])}}
    port = free_port()
    served = f"{workers} worker{'s' * (workers > 1)}"
    with tempfile.TemporaryDirectory(prefix="brainrecon-serving-") as work:
        server = start_server(bundle.root, port, threads, workers, Path(work) / "serve.log")
        try:
            url = f"http://127.0.0.1:{port}"
            return {
                f"decode one epoch, {served}": asyncio.run(load(url, decode, clients, requests)),
                f"health (HTTP stack alone), {served}": asyncio.run(
                    load(url, {"method": "GET", "url": "/api/health"}, clients, requests))}
        finally:
            server.terminate()
            server.wait(timeout=30)


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Bundle `{results['bundle']}`, {results['machine']}, torch threads "
             f"{results['threads']}.", "",
             "| in process, one window | p50 (ms) | p99 (ms) | real time (<= 10 ms) |",
             "|---|---|---|---|"]
    for name, row in results["in_process"].items():
        ok = "yes" if row["p99_ms"] <= REAL_TIME_MS else "no"
        lines.append(f"| {name} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {ok} |")
    lines += ["", f"| HTTP on loopback, {results['clients']} clients x {results['requests']} "
              "requests | requests/s | p50 (ms) | p99 (ms) | failed |", "|---|---|---|---|---|"]
    for name, row in results["http"].items():
        lines.append(f"| {name} | {row['requests_per_s']} | {row['p50_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['failed']} / {row['requests']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=PROJECT_ROOT / "models/decoders/eeg")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="server processes of each HTTP run")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where <name>.json and <name>.md are written")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.bundle)
    if bundle.examples is None:
        raise SystemExit(f"{args.bundle}: the bundle carries no example trials to decode")
    results = {
        "bundle": bundle.name, "threads": args.threads, "clients": args.clients,
        "requests": args.requests,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "in_process": in_process(bundle, args.calls),
        "http": {name: row for workers in args.workers for name, row in
                 over_http(bundle, args.clients, args.requests, args.threads, workers).items()},
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_json(results, args.results.with_suffix(".json"))
    table = markdown(results)
    args.results.with_suffix(".md").write_text(table)
    sys.stdout.write(table)
    return results


if __name__ == "__main__":
    main()
