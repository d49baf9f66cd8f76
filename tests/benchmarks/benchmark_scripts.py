"""Import a benchmark script as a module (beside the other scripts of benchmarks/)."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def import_benchmark(project_root: Path, name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, with ``benchmarks/`` importable while it loads."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(project_root / "benchmarks"))
        spec = importlib.util.spec_from_file_location(
            f"bench_{name}", project_root / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module
