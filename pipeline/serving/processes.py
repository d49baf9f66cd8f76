"""Run ``brainrecon serve``: one process, or several uvicorn workers sharing the port.

With ``workers > 1`` every worker process loads the bundles itself (each checks every file's
hash) from the settings passed in the environment (``SERVE_ENV``), so a worker never depends
on the parent's memory, and the workers share the decode load across CPU cores.
"""

from __future__ import annotations

import json
import os
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
    sys.stderr.write(f"{served} with {workers} workers (API key {key})\n")
    uvicorn.run("pipeline.serving.processes:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level="warning")
