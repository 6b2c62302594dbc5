"""Positions: rope / alibi / learned / none; the rotated width against head_dim; half or interleaved pairs."""

from __future__ import annotations

import ast
from pathlib import Path

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.syntax import line, names, walk

FRACTIONS = ("partial_rotary_factor", "rotary_pct", "rotary_percentage", "rope_pct")
WIDTHS = ("rotary_dim", "rotary_ndims", "rotary_emb_dim", "rope_dim", "qk_rope_head_dim", "rope_head_dim")


def head_dim(c: Code):
    """head_dim from the configuration's defaults: declared, else width / heads."""
    for key in ("head_dim", "head_size", "kv_channels"):
        if key in c.config and isinstance(c.config[key].value, int):
            return c.config[key].value
    if "qk_nope_head_dim" in c.config and "qk_rope_head_dim" in c.config:
        a, b = c.config["qk_nope_head_dim"].value, c.config["qk_rope_head_dim"].value
        if isinstance(a, int) and isinstance(b, int):
            return a + b
    width = next((c.config[k].value for k in ("hidden_size", "n_embd", "d_model", "dim") if k in c.config), None)
    heads = next((c.config[k].value for k in ("num_attention_heads", "n_head", "n_heads", "num_heads") if k in c.config), None)
    if isinstance(width, int) and isinstance(heads, int) and heads:
        return width // heads
    return None


def position_facts(c: Code) -> list[Fact]:
    rotary = c.by_role("rotary")
    apply = next((f for n, f in c.functions.items() if "rotary" in n or "rope" in n), None)
    everything = names(c.tree)
    if rotary or apply:
        kind = "rope"
    elif any("alibi" in n for n in everything):
        kind = "alibi"
    elif _learned(c):
        kind = "learned"
    else:
        kind = "none"
    out = [Fact("pos.kind", kind, line(apply) or line(c.classes.get(rotary[0]) if rotary else None))]
    if kind != "rope":
        return out
    out.append(_fraction(c, apply, everything))
    helper = c.functions.get("rotate_half")
    interleaved = any(isinstance(n, ast.Slice) and isinstance(n.step, ast.Constant) and n.step.value == 2
                      for n in walk(helper or apply or c.tree)) or "repeat_interleave" in names(helper or apply) \
        or "view_as_complex" in names(apply)  # DeepSeek-V2: adjacent pairs as complex numbers
    out.append(Fact("pos.rotary_style", "interleaved" if interleaved else "half", line(helper or apply)))
    return out


def _learned(c: Code) -> bool:
    """A module built for positions (`self.wpe = nn.Embedding(...)`, OPT's learned embedding): not the
    `position_embeddings` a 5.x layer is handed (the rotary's cos and sin)."""
    for cls in c.classes.values():
        for n in walk(cls):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and "Buffer" not in ast.unparse(n.value.func) \
                    and any(isinstance(t, ast.Attribute) and t.attr in ("wpe", "position_embeddings", "embed_positions")
                            for t in n.targets):
                return True
    return False


def _fraction(c: Code, apply, everything) -> Fact:
    """Partial when the configuration's fraction is below 1, or the rotated width the code reads is less than
    head_dim (GPT-J's 64 of 256); a slice of q/k in the apply function with neither declared, too."""
    factor = next((c.config[k] for k in FRACTIONS if k in c.config and k in everything), None)
    if factor is not None and isinstance(factor.value, (int, float)):
        return Fact("pos.rotary_fraction", "partial" if factor.value < 1 else "full", line(apply), factor.where)
    declared = _set_by_configuration(c)
    if declared is not None:
        return Fact("pos.rotary_fraction", "partial" if declared[0] < 1 else "full", line(apply), declared[1])
    for n in walk(c.tree):  # rope_parameters.get("partial_rotary_factor", 1.0): the code's own default
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get" and len(n.args) == 2 \
                and isinstance(n.args[0], ast.Constant) and n.args[0].value in FRACTIONS \
                and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, (int, float)):
            return Fact("pos.rotary_fraction", "partial" if n.args[1].value < 1 else "full", n.lineno,
                        f"{n.args[0].value} defaults to {n.args[1].value}")
    width = next((c.config[k] for k in WIDTHS if k in c.config and k in everything), None)
    if width is not None:
        full = head_dim(c)
        partial = isinstance(width.value, int) and (full is None or width.value < full)
        return Fact("pos.rotary_fraction", "partial" if partial else "full", line(apply),
                    f"{width.where}: {width.value} of head_dim {full}")
    rotated = {a.arg for a in apply.args.args[:2]} if apply is not None else set()  # q, k (not cos, sin)
    sliced = apply is not None and any(isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Tuple)
                                      and isinstance(n.value, ast.Name) and n.value.id in rotated
                                      and any(isinstance(e, ast.Slice) and e.upper is not None for e in n.slice.elts)
                                      for n in walk(apply))
    return Fact("pos.rotary_fraction", "partial" if sliced else "full", line(apply))


def _set_by_configuration(c: Code):
    """A fraction the configuration's __init__ fills in (`kwargs.setdefault("partial_rotary_factor", 0.25)`),
    which a field reader does not see: read off the configuration file the defaults came from."""
    where = next((d.where for d in c.config.values() if d.where), "")
    path = Path(where.rsplit(":", 1)[0]) if where else None
    if path is None or not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return None
    for n in ast.walk(tree):  # kwargs["partial_rotary_factor"] = 0.5, self.partial_rotary_factor = 0.5
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, float) and any(
                (isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and t.slice.value in FRACTIONS)
                or (isinstance(t, ast.Attribute) and t.attr in FRACTIONS) for t in n.targets):
            return n.value.value, f"{path}:{n.lineno}"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "setdefault" \
                and len(n.args) == 2 and isinstance(n.args[0], ast.Constant) and n.args[0].value in FRACTIONS:
            value = n.args[1]
            if isinstance(value, ast.Call) and value.args[1:]:  # kwargs.get("partial_rotary_factor", 1.0)
                value = value.args[1]
            if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
                return value.value, f"{path}:{n.lineno}"
    return None
