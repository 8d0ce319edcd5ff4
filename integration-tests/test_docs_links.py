"""The tests the Markdown files name exist (no gateway needed).

Every ``.md`` file of the repository (outside code blocks) that names a test file
(``test_x.py``, with or without its folder), a test function (``test_y``) or a pytest
node id (``test_x.py::test_y[param]``) names one that is there: the file in the
repository, the function in one of its Python or Rust test files, the node id in
``pytest --collect-only`` of that file. A test that moves (into
``test_conformance.py``, say) then takes its mentions in the docs along.

Not names of tests, and skipped: the ``test_<name>.py`` and ``test_X.py``
placeholders, globs such as ``test_trust_*.py``, and fenced code blocks.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folders that are not the project's own (tools, builds, third-party checkouts).
SKIPPED_DIRS = {".git", ".venv", "target", "node_modules", "__pycache__", ".pytest_cache"}

#: A test file, optionally with a path before it and a node id after it.
FILE_REF = re.compile(r"(?<![\w.-])((?:[\w.-]+/)*)(test_\w+\.py)(?:::(\w+)(\[[^\]\s`|]*\])?)?")
#: A test function's name on its own (not part of a longer name, not a file name).
FUNCTION_REF = re.compile(r"(?<![\w./-])(test_\w+)(?![\w.*<])")
FENCE = re.compile(r"^\s*(```|~~~)")


@lru_cache(maxsize=None)
def _project_files() -> tuple[Path, ...]:
    """Every file of the project (the skipped folders not entered)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [Path(folder) / name for name in files]
    return tuple(sorted(found))


def _walk(pattern: str) -> list[Path]:
    return [p for p in _project_files() if fnmatch.fnmatch(p.name, pattern)]


@lru_cache(maxsize=None)
def markdown_files() -> tuple[Path, ...]:
    return tuple(_walk("*.md"))


@lru_cache(maxsize=None)
def known_test_files() -> dict[str, list[Path]]:
    """Test files by name (``test_x.py`` → its paths)."""
    by_name: dict[str, list[Path]] = {}
    for path in _walk("test_*.py"):
        by_name.setdefault(path.name, []).append(path)
    return by_name


@lru_cache(maxsize=None)
def known_test_functions() -> frozenset[str]:
    """The names of every test function (Python ``def test_…``, also in classes, and
    Rust ``fn test_…``) in the repository."""
    names: set[str] = set()
    for path in _walk("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.name.startswith("test_")}
    for path in _walk("*.rs"):
        names |= set(re.findall(r"\bfn (test_\w+)", path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(names)


@lru_cache(maxsize=None)
def collected_ids(path: Path) -> frozenset[str]:
    """``test_y[param]`` of every test pytest collects in ``path`` (no gateway starts)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    ids = {line.partition("::")[2] for line in proc.stdout.splitlines() if "::" in line}
    assert ids, f"pytest collected nothing in {path}:\n{proc.stdout}\n{proc.stderr}"
    # Tests in classes: Class::test_y[param] → test_y[param] too.
    return frozenset(ids | {i.rpartition("::")[2] for i in ids})


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The numbered lines of a Markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def is_placeholder(name: str) -> bool:
    """``test_X.py`` (and prefixes such as ``test_trust_``): not the name of a test."""
    return name.endswith("_") or re.fullmatch(r"test_[A-Z]\.py", name) is not None


def stale_names(text: str, folder: Path, label: str) -> list[str]:
    """What the Markdown ``text`` (a file in ``folder``) names that does not exist."""
    stale = []
    for number, line in prose_lines(text):
        where = f"{label}:{number}"
        for match in FILE_REF.finditer(line):
            path, name, function, param = match.groups()
            if is_placeholder(name):
                continue
            candidates = known_test_files().get(name, [])
            if path:
                wanted = {(folder / path / name).resolve(), (ROOT / path / name).resolve()}
                candidates = [p for p in candidates if p.resolve() in wanted]
            if not candidates:
                stale.append(f"{where}: no test file {path}{name}")
                continue
            if function:
                node = function + (param or "")
                if not any(node in collected_ids(p) for p in candidates):
                    stale.append(f"{where}: no test {name}::{node}")
        for match in FUNCTION_REF.finditer(FILE_REF.sub(" ", line)):
            name = match.group(1)
            if not is_placeholder(name) and name not in known_test_functions():
                stale.append(f"{where}: no test function {name}")
    return stale


def test_the_docs_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    assert {"README.md", "docs/providers.md", "integration-tests/README.md"} <= names
    assert "test_conformance.py" in known_test_files() and "test_json_mode" in known_test_functions()


@pytest.mark.parametrize("md", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_markdown_names_only_tests_that_exist(md: Path):
    assert stale_names(md.read_text(encoding="utf-8"), md.parent, str(md.relative_to(ROOT))) == []


@pytest.mark.parametrize("text", [
    "`test_no_such_file.py`",
    "`test_no_such_function`",
    "`test_conformance.py::test_json_mode[no_such_row]`",
    "`test_conformance.py::test_no_such_test`",
    "`journeys/test_providers.py` (the file is elsewhere)",
])
def test_the_check_finds_a_stale_name(text: str):
    assert len(stale_names(text, ROOT / "integration-tests", "probe")) == 1


@pytest.mark.parametrize("text", [
    "`test_conformance.py::test_json_mode[anthropic]`",
    "test_providers.py, `integration-tests/test_providers.py`, `../test_journey_docs.py`",
    "`test_trust_*.py`, `test_<name>.py`, `integration-tests/test_X.py`",
    "`test_magistral_reasoning` (test_clouds.py), google_test_key.pem",
    "```\ndef test_only_in_a_code_block(): ...\n```",
])
def test_the_check_passes_what_exists(text: str):
    assert stale_names(text, ROOT / "integration-tests" / "journeys" / "litellm-docs", "probe") == []
