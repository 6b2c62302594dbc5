"""A remote-code repo's own Python files, parsed once each where a question is asked of all of them; a file that
does not parse is no evidence either way (the modeling file's own failure is reported where it is imported)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def parsed_files(folder: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(folder.glob("*.py")):
        try:
            yield path, ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue


def inside_try(tree: ast.Module) -> set[int]:
    """ids of the nodes under a `try:` body: an optional path the code runs without."""
    return {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for s in t.body for n in ast.walk(s)}
