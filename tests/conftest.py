"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (holds dvc.yaml, params.yaml, stages/)."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings beside the project (``../shared/data``); skips when absent."""
    path = (PROJECT_ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip("../shared/data is absent (real recordings for tests; see docs/tests.md)")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests on one torch thread, then restore the count: tiny networks run
    fastest on one thread when the cores are shared (several threads spin)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
