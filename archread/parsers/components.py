"""Components of a reduced module and their roles, read from its classes and functions."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

# class-name endings -> role; the first that matches wins (order matters: "DecoderLayer" before "Layer")
_ROLE_ENDINGS = [
    ("ForCausalLM", "lm head"), ("LMHeadModel", "lm head"), ("RMSNorm", "norm"), ("LayerNorm", "norm"),
    ("Norm", "norm"), ("RotaryEmbedding", "rotary"), ("Attention", "attention"), ("SparseMoeBlock", "moe"),
    ("MoE", "moe"), ("Moe", "moe"), ("Experts", "moe"), ("Router", "moe"), ("Gate", "moe"), ("MLP", "mlp"),
    ("Mixer", "mixer"),  # a state-space or linear-attention mixer (Mamba's): named in the reader, not "other"
    ("DecoderLayer", "decoder layer"), ("Block", "decoder layer"), ("Layer", "decoder layer"),
    ("Embedding", "embedding"), ("Embeddings", "embedding"), ("Model", "model"),
]


@dataclass(frozen=True)
class Component:
    name: str
    role: str
    code: str
    normalised: str  # the code with the model's prefix replaced by the reference's, for line diffs
    line: int


def role_of(name: str, is_class: bool) -> str:
    if not is_class:
        return "helper"
    role = next((role for ending, role in _ROLE_ENDINGS if name.endswith(ending)), "other")
    return "norm" if role == "other" and "Norm" in name else role  # NemotronLayerNorm1P


def prefix_of(names: list[str]) -> str:
    """The model prefix the classes share: 'Nemotron' of NemotronMLP, NemotronModel; the head is named
    <prefix>ForCausalLM, or <prefix>LMHeadModel in older and remote code (QWenLMHeadModel, GPT2LMHeadModel)."""
    for head in ("ForCausalLM", "LMHeadModel"):
        model = [n for n in names if n.endswith(head) and len(n) > len(head)]
        if model:
            return model[0][: -len(head)]
    return ""


def prefix_of_code(code: str) -> str:
    tree = ast.parse(code)
    return prefix_of([n.name for n in tree.body if isinstance(n, ast.ClassDef)])


def rename_prefix(text: str, prefix: str, to: str) -> str:
    """Identifiers starting with prefix (NemotronMLP, Nemotron_x) renamed to start with `to`, token by token."""
    if not prefix or prefix == to:
        return text
    lines = text.splitlines(keepends=True)
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME
                  and t.string.startswith(prefix) and t.string[len(prefix):][:1].isupper() | t.string[len(prefix):].startswith("_")]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text
    for tok in reversed(tokens):  # right to left keeps earlier columns valid
        row, col = tok.start[0] - 1, tok.start[1]
        lines[row] = lines[row][:col] + to + lines[row][col + len(prefix):]
    return "".join(lines)


def components(code: str, rename_to: str = "Llama") -> list[Component]:
    tree = ast.parse(code)
    lines = code.splitlines()
    defs = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    prefix = prefix_of([d.name for d in defs if isinstance(d, ast.ClassDef)])
    out = []
    for node in defs:
        text = "\n".join(lines[node.lineno - 1: node.end_lineno])
        normalised = rename_prefix(text, prefix, rename_to)
        out.append(Component(node.name, role_of(node.name, isinstance(node, ast.ClassDef)), text, normalised,
                             node.lineno))
    return out


def counterpart(part: Component, reference: list[Component]) -> Component | None:
    """The reference component in the same role with the closest name (NemotronMLP ↔ LlamaMLP)."""
    same_role = [r for r in reference if r.role == part.role]
    if not same_role:
        return None
    exact = [r for r in same_role if r.name == part.name]
    if exact:
        return exact[0]
    if part.role == "helper":  # functions pair by name only: rotate_half is not _cast_if_autocast_enabled
        return None
    suffix = lambda n: re.sub(r"^[A-Z][a-z0-9]*(?=[A-Z])", "", n)  # noqa: E731
    return next((r for r in same_role if suffix(r.name) == suffix(part.name)), same_role[0])
