"""Positions: rope / alibi / learned / none; the rotated width against head_dim; half or interleaved pairs."""

from __future__ import annotations

import ast
from pathlib import Path

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.syntax import config_field, is_self, leaf, line, names, walk

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
    if not rotary and apply and _rotary_left_out(c):
        kind = "none"  # the apply function is there, but what would feed it is None by default
    elif rotary or apply:
        kind = "rope"
    elif any("alibi" in n for n in everything):
        kind = "alibi"
    else:
        kind = _table(c) or "none"
    out = [Fact("pos.kind", kind, line(apply) or line(c.classes.get(rotary[0]) if rotary else None))]
    if kind != "rope":
        return out
    out.append(_fraction(c, apply, everything))
    out.append(_rotary_layers(c, apply))
    helper = c.functions.get("rotate_half")
    interleaved = any(isinstance(n, ast.Slice) and isinstance(n.step, ast.Constant) and n.step.value == 2
                      for n in walk(helper or apply or c.tree)) or "repeat_interleave" in names(helper or apply) \
        or "view_as_complex" in names(apply)  # DeepSeek-V2: adjacent pairs as complex numbers
    out.append(Fact("pos.rotary_style", "interleaved" if interleaved else "half", line(helper or apply)))
    return out


def _rotary_layers(c: Code, apply) -> Fact:
    """per_layer where the rotary is applied under a layer's own flag (`if self.use_rope:` with
    use_rope = config.no_rope_layers[layer_idx], SmolLM3's NoPE layers), else all."""
    for cls, node in c.classes.items():
        attrs = c.attrs(cls)
        for n in walk(node):
            if not isinstance(n, ast.If) or c.flag(n.test, attrs) is not None:
                continue
            if not any(isinstance(k, ast.Call) and (k.func is not None and apply is not None and
                       isinstance(k.func, ast.Name) and k.func.id == apply.name) for s in n.body for k in walk(s)):
                continue
            read = [attrs.get(a.attr) for a in walk(n.test) if isinstance(a, ast.Attribute) and is_self(a.value)]
            listed = next((r for r in read if isinstance(r, ast.Subscript) and config_field(r.value)), None)
            if listed is not None:
                return Fact("pos.layers", "per_layer", n.lineno, f"config.{config_field(listed.value)}", ast.unparse(n.test))
    return Fact("pos.layers", "all", line(apply))


def _rotary_left_out(c: Code) -> bool:
    """A model that holds its rotary as None (`self.rotary_emb = None`: GraniteMoeHybrid's position_embedding_type
    defaults to none), with no rotary class left to build."""
    return any(isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and n.value.value is None and any(
        isinstance(t, ast.Attribute) and ("rotary" in t.attr or "rope" in t.attr) for t in n.targets)
        for cls in c.by_role("model") for n in walk(c.classes[cls]))


def _table(c: Code) -> str | None:
    """A module built for positions (`self.wpe = nn.Embedding(...)`, OPT's learned embedding): learned, or
    sinusoidal where it is a class here that is no embedding and fills its table with sin and cos (XGLM); not
    the `position_embeddings` a 5.x layer is handed (the rotary's cos and sin)."""
    for cls in c.classes.values():
        for n in walk(cls):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and "Buffer" not in ast.unparse(n.value.func) \
                    and any(isinstance(t, ast.Attribute) and t.attr in ("wpe", "position_embeddings", "embed_positions")
                            for t in n.targets):
                built = ast.unparse(n.value.func)
                if built in c.classes and not any(a.endswith("Embedding") for a in c.ancestors(built)) and \
                        {"sin", "cos"} <= {leaf(k.func) for k in walk(c.classes[built]) if isinstance(k, ast.Call)}:
                    return "sinusoidal"
                return "learned"
    return None


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
