"""Lineage: every stage's deps in dvc.yaml are the project modules its script runs."""

import textwrap
from pathlib import Path

import pytest
import yaml

from pipeline.lineage import compact, module_closure, stage_lineages

FIX = "run `python -m pipeline.lineage --write` to list them"


@pytest.fixture(scope="module")
def lineages(project_root):
    return stage_lineages(project_root)


def test_every_stage_lists_the_modules_it_runs(lineages):
    missing = {lineage.stage: [str(path) for path in lineage.missing()] for lineage in lineages}
    missing = {stage: paths for stage, paths in missing.items() if paths}
    assert not missing, f"dvc.yaml deps miss modules their stage runs ({FIX}): {missing}"


def test_no_stage_lists_code_it_never_runs(lineages, project_root):
    extra = {}
    for lineage in lineages:
        listed = {dep for dep in lineage.deps if dep.split("/")[0] in ("pipeline", "stages")}
        unused = listed - set(compact(lineage.closure, project_root.absolute()))
        if unused:
            extra[lineage.stage] = sorted(unused)
    assert not extra, f"dvc.yaml deps list code their stage never runs ({FIX}): {extra}"


def test_every_stage_script_is_found(lineages, project_root):
    stages = yaml.safe_load((project_root / "dvc.yaml").read_text())["stages"]
    assert {lineage.stage for lineage in lineages} == set(stages)
    assert all((project_root / lineage.script).is_file() for lineage in lineages)


def test_a_removed_dep_is_reported_with_its_stage(tmp_path, project_root):
    for name in ("pipeline", "stages"):
        (tmp_path / name).symlink_to(project_root / name)
    text = (project_root / "dvc.yaml").read_text()
    train = text.index("\n  train:\n")
    removed = text[:train] + text[train:].replace("        - pipeline/config.py\n", "", 1)
    (tmp_path / "dvc.yaml").write_text(removed)
    missing = {lineage.stage: lineage.missing() for lineage in stage_lineages(tmp_path)}
    assert missing["train"] == [Path("pipeline/config.py")]
    assert not missing["predict"]


def write_package(root, files):
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))


def test_closure_follows_imports_functions_relative_imports_and_registries(tmp_path):
    write_package(tmp_path, {
        "run.py": "from pipeline.a import f\n",
        "pipeline/__init__.py": "",
        "pipeline/a.py": """
            from typing import TYPE_CHECKING
            from . import b
            if TYPE_CHECKING:
                from pipeline import typing_only
            def f():
                from pipeline.sub import g
            """,
        "pipeline/b.py": "MODULES = ('pipeline.registered',)\n",
        "pipeline/registered.py": "",
        "pipeline/typing_only.py": "",
        "pipeline/sub/__init__.py": "",
        "pipeline/sub/g.py": "",
        "pipeline/sub/unused.py": "",
        "pipeline/never.py": "",
    })
    closure = {str(path) for path in module_closure(Path("run.py"), tmp_path)}
    assert closure == {"run.py", "pipeline/__init__.py", "pipeline/a.py", "pipeline/b.py",
                       "pipeline/registered.py", "pipeline/sub/__init__.py", "pipeline/sub/g.py"}
    entries = compact(module_closure(Path("run.py"), tmp_path), tmp_path)
    assert "pipeline/sub/g.py" in entries and "pipeline/sub" not in entries
    (tmp_path / "pipeline" / "sub" / "unused.py").unlink()
    assert "pipeline/sub" in compact(module_closure(Path("run.py"), tmp_path), tmp_path)
