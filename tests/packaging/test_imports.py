"""Tests and benchmarks import `vaxflow`, never each other: what both need lives in the package
(the soak's day and invariants, the QR sample reader), so either can change on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported(path: Path) -> set[str]:
    """Top-level names of every module the file imports (function-local imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


@pytest.mark.parametrize(("folder", "other"), [("tests", "benchmarks"), ("benchmarks", "tests")])
def test_neither_imports_the_other(folder: str, other: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    offending = [str(f.relative_to(ROOT)) for f in files if other in _imported(f)]
    assert not offending, f"{folder} importing {other}: {offending}"
