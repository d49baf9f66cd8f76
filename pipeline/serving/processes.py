"""Run ``brainrecon serve``: one process, or several worker processes on one port.

With ``workers > 1`` every worker process loads the bundles itself (each checks every file's
hash) from the settings passed in the environment (``SERVE_ENV``), so a worker never depends
on the parent's memory, and the workers share the decode load across CPU cores.

Where the system has ``SO_REUSEPORT`` (Linux), each worker listens on a socket of its own
bound to the same port, and the kernel spreads new connections across the sockets. Workers
that share one listening socket (uvicorn's own ``workers``, the fallback elsewhere) take
connections as they wake: measured with 50 keep-alive clients on 2 workers, one worker held
46 connections and the other 4, so a second worker barely added throughput.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from pipeline.errors import ParamsError

SERVE_ENV = "BRAINRECON_SERVE_SETTINGS"  # JSON: bundles, api_key_env, max_upload_bytes, threads


def build_app(bundles: list[str], api_key_env: str, max_upload_bytes: int,
              threads: int) -> FastAPI:
    """Load the bundles under ``bundles`` and make the app (``threads`` torch threads if > 0)."""
    import torch

    from pipeline.serving.app import create_app
    from pipeline.serving.bundle import find_bundles, load_bundle

    if threads > 0:
        torch.set_num_threads(threads)
    loaded = {name: load_bundle(path) for name, path in find_bundles(bundles).items()}
    return create_app(loaded, os.environ.get(api_key_env) or None, max_upload_bytes)


def app_from_environment() -> FastAPI:
    """The app of one worker process, from the settings ``serve`` left in ``SERVE_ENV``."""
    return build_app(**json.loads(os.environ[SERVE_ENV]))


def reuse_port_socket(host: str, port: int, backlog: int | None = 2048) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other processes may bind too
    (``SO_REUSEPORT``: the kernel spreads connections across the listening ones); it
    listens unless ``backlog`` is None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def run_worker(host: str, port: int, ready: Any) -> None:
    """One worker process: the app from ``SERVE_ENV``, then its own ``SO_REUSEPORT`` socket;
    ``ready`` (an event) is set once it listens."""
    import uvicorn

    app = app_from_environment()
    sock = reuse_port_socket(host, port)
    ready.set()
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def supervise(host: str, port: int, workers: int, banner: str) -> None:
    """Start ``workers`` processes of :func:`run_worker`, write ``banner`` to stderr once
    every one listens, and wait until one ends or an interrupt; then stop them all.

    Raises
    ------
    OSError
        If ``host:port`` cannot be bound (checked before any worker starts).
    SystemExit
        With status 1 if a worker ended by itself (the others are stopped with it).
    """
    from multiprocessing.connection import wait

    reuse_port_socket(host, port, backlog=None).close()  # the port can be shared, or fail here
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no copied state
    events = [context.Event() for _ in range(workers)]
    processes = [context.Process(target=run_worker, args=(host, port, event), daemon=True)
                 for event in events]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the workers on the way out
    for process in processes:
        process.start()
    sentinels = [process.sentinel for process in processes]
    try:
        ended = []
        while not ended and not all(event.is_set() for event in events):
            ended = wait(sentinels, timeout=0.2)
        if not ended:
            sys.stderr.write(banner)
            ended = wait(sentinels)
    except KeyboardInterrupt:
        ended = []
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
    if ended:
        code = next(process.exitcode for process in processes if process.sentinel in ended)
        raise SystemExit(f"a brainrecon serve worker exited on its own (code {code}); the "
                         "other workers were stopped")


def serve(bundles: list[Path], host: str, port: int, api_key_env: str, max_upload_bytes: int,
          threads: int, workers: int) -> None:
    """Serve the bundles on ``host:port`` until interrupted, in ``workers`` processes."""
    import uvicorn

    from pipeline.serving.bundle import find_bundles, load_bundle

    if workers < 1:
        raise ParamsError(f"--workers: got {workers}; expected at least 1")
    settings: dict[str, Any] = {"bundles": [str(path) for path in bundles],
                                "api_key_env": api_key_env,
                                "max_upload_bytes": max_upload_bytes, "threads": threads}
    found = find_bundles(settings["bundles"])
    served = f"serving {', '.join(found)} on http://{host}:{port}"
    key = "required" if os.environ.get(api_key_env) else "off"
    if workers == 1:
        app = build_app(**settings)  # errors in a bundle stop here, before the port opens
        sys.stderr.write(f"{served} (API key {key})\n")
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    for path in found.values():  # a bad bundle is refused here, not in every worker
        load_bundle(path)
    os.environ[SERVE_ENV] = json.dumps(settings)
    banner = f"{served} with {workers} workers (API key {key})\n"
    if hasattr(socket, "SO_REUSEPORT"):
        supervise(host, port, workers, banner)
        return
    sys.stderr.write(banner)
    uvicorn.run("pipeline.serving.processes:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level="warning")
