"""Lineage: the project modules each DVC stage runs, and whether ``dvc.yaml`` lists them.

A cached result matches the code only if a stage's ``deps`` cover every module its script
can run. :func:`module_closure` follows the script's imports through the project,
statically: imports at module level and inside functions alike (a function-level import
runs when the function does), relative imports, and every string constant that names a
project module (how registries list the modules they import on first use,
:class:`pipeline.registry.Registry`). Imports under ``if TYPE_CHECKING:`` never run and are
left out. ``python -m pipeline.lineage`` prints each stage's closure as the ``deps`` to list.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

SCRIPT = re.compile(r"\bpython3?\s+(\S+\.py)\b")  # the stage script in a dvc.yaml cmd


def module_path(root: Path, name: str) -> Path | None:
    """The file of project module ``name`` under ``root`` (a package's __init__), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at ``path`` (``pipeline/a/__init__.py`` -> pipeline.a)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _run_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` that can run: all of it but ``if TYPE_CHECKING:`` bodies."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node):
            children = list(node.orelse)
        stack.extend(children)
    return nodes


def imported_names(path: Path, name: str) -> set[str]:
    """The dotted names ``path`` (module ``name``) may import, as written or resolved.

    ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (``c`` may be a submodule); string
    constants are returned as they are, to be kept when they name a project module.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in _run_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"[A-Za-z_][\w.]*", node.value):
                names.add(node.value)
    return names


def module_closure(script: Path, root: Path, package: str = "pipeline") -> set[Path]:
    """The files of ``package`` that running ``script`` may import, and the script itself.

    Parameters
    ----------
    script : Path
        A stage script (``stages/train.py``).
    root : Path
        The project root, which holds ``package``.
    package : str
        The project's top-level package.

    Returns
    -------
    set of Path
        Paths relative to ``root``; importing a module imports every package above it, so
        their ``__init__.py`` files are in too.
    """
    root = root.absolute()
    script = (root / script).absolute()
    seen: set[Path] = set()
    todo = [(script, "__main__")]
    while todo:
        path, name = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for imported in imported_names(path, name):
            parts = imported.split(".")
            if parts[0] != package:
                continue
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                found = module_path(root, prefix)
                if found is not None and found not in seen:
                    todo.append((found, prefix))
    return {path.relative_to(root) for path in seen}


def compact(files: set[Path], root: Path) -> list[str]:
    """``files`` as few ``deps`` entries: a folder stands for its modules when all are in.

    Only the modules of a folder count (``*.py`` below it), so a folder is listed only if
    running the stage may import every one of them.
    """
    def modules(folder: Path) -> set[Path]:
        return {path.relative_to(root) for path in (root / folder).rglob("*.py")}

    entries: set[Path] = set()
    for path in sorted(files):
        folder = path.parent
        best = path
        while folder != Path(".") and modules(folder) <= files:
            best, folder = folder, folder.parent
        entries.add(best)
    return sorted({str(entry) for entry in entries
                   if not any(parent in entries for parent in entry.parents)})


@dataclass(frozen=True)
class StageLineage:
    """One stage of ``dvc.yaml``: its script, the files it lists and the modules it runs."""

    stage: str
    script: Path
    deps: tuple[str, ...]
    closure: frozenset[Path]

    def missing(self) -> list[Path]:
        """The modules the stage may run that no entry of its ``deps`` covers."""
        listed = [Path(dep) for dep in self.deps]
        return sorted(path for path in self.closure
                      if not any(path == dep or dep in path.parents for dep in listed))


def stage_lineages(root: Path, dvc_file: str = "dvc.yaml") -> list[StageLineage]:
    """The lineage of every stage of ``root/dvc_file`` whose command runs a Python script.

    ``foreach`` stages are read from their ``do`` template: every instance runs the same
    script with the same ``deps`` entries for code.
    """
    root = Path(root)
    stages = yaml.safe_load((root / dvc_file).read_text())["stages"]
    lineages = []
    for stage, spec in stages.items():
        body = spec.get("do", spec)
        match = SCRIPT.search(" ".join(body["cmd"]) if isinstance(body["cmd"], list)
                              else body["cmd"])
        if match is None:
            continue
        script = Path(match.group(1))
        deps = tuple(str(dep) for dep in body.get("deps", []))
        lineages.append(StageLineage(stage, script, deps,
                                     frozenset(module_closure(script, root))))
    return lineages


def _is_code(entry: str, package: str = "pipeline") -> bool:
    """Whether a ``deps`` entry names project code (the package or a stage script)."""
    return entry.split("/")[0] in (package, "stages")


def write_deps(root: Path, dvc_file: str = "dvc.yaml") -> str:
    """Rewrite the code entries of every stage's ``deps`` in ``root/dvc_file`` from the code.

    Each stage's code entries become :func:`compact` of its closure, listed first; its
    data entries, comments and the rest of the file are kept as they are.

    Returns
    -------
    str
        The new text of the file (also written).
    """
    root = Path(root).absolute()
    deps = {lineage.stage: compact(lineage.closure, root) for lineage in stage_lineages(root)}
    lines = (root / dvc_file).read_text().splitlines(keepends=True)
    out, stage, index = [], None, 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 2 and stripped.endswith(":") and not stripped.startswith("#"):
            stage = stripped[:-1]
        out.append(line)
        index += 1
        if stripped == "deps:" and stage in deps:
            items = []
            while index < len(lines) and lines[index].strip().startswith("- "):
                items.append(lines[index])
                index += 1
            prefix = items[0][: len(items[0]) - len(items[0].lstrip())] if items else (
                " " * (indent + 2))
            out.extend(f"{prefix}- {entry}\n" for entry in deps[stage])
            out.extend(item for item in items if not _is_code(item.strip()[2:]))
    text = "".join(out)
    (root / dvc_file).write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Check (``--check``, exit 1 on a miss) or rewrite (``--write``) the code ``deps``.

    Without a flag, print each stage's closure as the ``deps`` entries to list.
    """
    argv = sys.argv[1:] if argv is None else argv
    root = Path.cwd()
    if "--write" in argv:
        write_deps(root)
        return 0
    status = 0
    for lineage in stage_lineages(root):
        if "--check" in argv:
            for path in lineage.missing():
                sys.stdout.write(f"{lineage.stage}: {path} is run but not in deps\n")
                status = 1
        else:
            sys.stdout.write(f"{lineage.stage} ({lineage.script}):\n")
            sys.stdout.writelines(f"  - {entry}\n" for entry in compact(
                lineage.closure, root.absolute()))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
