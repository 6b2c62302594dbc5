"""The names archread's prelude exports, read from its source without importing torch."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PRELUDE_MODULE = "archread.prelude"
_PRELUDE = Path(__file__).resolve().parent.parent / "prelude.py"


@lru_cache(maxsize=1)
def prelude_names() -> frozenset[str]:
    tree = ast.parse(_PRELUDE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


@lru_cache(maxsize=1)
def stands_in() -> dict[str, frozenset[str]]:
    """Third-party module → the functions of it the prelude has its own of (einops' rearrange and repeat)."""
    tree = ast.parse(_PRELUDE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "STANDS_IN" for t in node.targets):
            return {k: frozenset(v) for k, v in ast.literal_eval(node.value).items()}
    return {}
