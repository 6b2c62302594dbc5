"""Sizes the modeling code fixes as literals, whatever the configuration says: a tiny configuration must keep
them (a head size written into a `view`, a head count written as `width // 128`)."""

from __future__ import annotations

import ast
from pathlib import Path


def code_texts(text: str, repo: Path | None) -> list[str]:
    """The modeling file's text and, for remote code, its sibling files' (a vision tower in visual.py)."""
    return [text] + ([p.read_text(encoding="utf-8", errors="replace") for p in sorted(repo.glob("*.py"))] if repo else [])


def _trees(texts):
    for text in texts:
        try:
            yield ast.parse(text)
        except SyntaxError:
            continue


def literal_sizes(text: str) -> set[int]:
    """Integer literals that end a `.view(...)` / `.reshape(...)` call in the source: sizes the code fixes
    (Falcon-40B's RW code splits its fused qkv with `view(..., 64)`, whatever the configuration says)."""
    return {node.args[-1].value for tree in _trees([text]) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("view", "reshape")
            and node.args and isinstance(node.args[-1], ast.Constant) and type(node.args[-1].value) is int
            and node.args[-1].value > 1}


def literal_divisors(texts) -> dict[str, int]:
    """name → the integer literal the code floor-divides it by (`num_heads=output_dim // 128`: a head size the
    code fixes), the largest where several: a tiny value of that field must stay a multiple of it."""
    found: dict[str, int] = {}
    for node in (n for tree in _trees(texts) for n in ast.walk(tree)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.FloorDiv) and isinstance(node.right, ast.Constant) \
                and type(node.right.value) is int and node.right.value > 1:
            name = node.left.id if isinstance(node.left, ast.Name) else getattr(node.left, "attr", None)
            if name:
                found[name] = max(found.get(name, 0), node.right.value)
    return found


def literal_padding_ids(texts) -> set[int]:
    """Token ids the code writes as literals for an embedding's padding row (`self.padding_idx = 128002` then
    `nn.Embedding(vocab, width, self.padding_idx)`): the tiny vocabulary must hold them, or the embedding refuses."""
    found = set()
    for tree in _trees(texts):
        literals = {}  # a name or attribute assigned an int literal anywhere in the file
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
                for target in node.targets:
                    name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
                    if name:
                        literals[name] = node.value.value
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if not callee.endswith("Embedding"):
                continue
            arg = next((k.value for k in call.keywords if k.arg == "padding_idx"), call.args[2] if len(call.args) > 2 else None)
            if isinstance(arg, ast.Constant) and type(arg.value) is int:
                found.add(arg.value)
            elif isinstance(arg, (ast.Name, ast.Attribute)):
                name = arg.id if isinstance(arg, ast.Name) else arg.attr
                if name in literals:
                    found.add(literals[name])
    return {i for i in found if i >= 0}
