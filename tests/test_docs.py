"""The documentation: a short README, links that resolve, nothing pointing outside the repo."""

from __future__ import annotations

import re
from pathlib import Path

MAX_README_LINES = 250
# Built from pieces so that this file does not name the design document itself.
DESIGN = "DE" + "SIGN"
FORBIDDEN = (f"shared/{DESIGN}", f"{DESIGN}.md")
SCANNED = ("pipeline", "stages", "tests", "docs", "benchmarks")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files(root: Path) -> list[Path]:
    """README.md and every markdown page of docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines of a markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def links(text: str) -> list[str]:
    """The targets of the markdown links of a text, code spans and blocks left out."""
    return [target for line in prose_lines(text)
            for target in LINK.findall(CODE_SPAN.sub("", line))]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings (repeated headings get -1, -2, ...)."""
    seen: dict[str, int] = {}
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            if count:
                seen.setdefault(f"{base}-{count}", 1)
    return set(seen)


def test_readme_is_short(project_root):
    lines = (project_root / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; at most {MAX_README_LINES}: move detail into docs/")


def test_docs_index_exists(project_root):
    assert (project_root / "docs" / "README.md").is_file()


def test_relative_links_resolve_inside_the_repository(project_root):
    root = project_root.resolve()
    problems = []
    for source in markdown_files(root):
        for target in links(source.read_text(encoding="utf-8")):
            where = f"{source.relative_to(root)}: link {target!r}"
            if SCHEME.match(target) or target.startswith("/"):
                problems.append(f"{where} points outside the repository")
                continue
            file_part, _, anchor = target.partition("#")
            path = (source.parent / file_part).resolve() if file_part else source
            if not path.is_relative_to(root):
                problems.append(f"{where} leaves the repository")
            elif not path.exists():
                problems.append(f"{where}: {path.relative_to(root)} does not exist")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                problems.append(f"{where}: no heading with anchor #{anchor}")
    assert not problems, "\n".join(problems)


def test_the_pages_have_links(project_root):
    """The link check above reads links: the README and the index link into docs/."""
    for page in (project_root / "README.md", project_root / "docs" / "README.md"):
        assert links(page.read_text(encoding="utf-8")), f"{page}: no link found"


def test_no_file_names_the_design_document(project_root):
    files = [project_root / "README.md"]
    for folder in SCANNED:
        files += [path for path in sorted((project_root / folder).rglob("*"))
                  if path.is_file() and not SKIPPED_DIRS & set(path.parts)]
    offenders = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for number, line in enumerate(text.splitlines(), start=1):
            if any(forbidden in line for forbidden in FORBIDDEN):
                offenders.append(f"{path.relative_to(project_root)}:{number}: {line.strip()}")
    assert not offenders, "files that name a document outside the repository:\n" + "\n".join(
        offenders)
