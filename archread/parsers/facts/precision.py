"""Where the code keeps float32 before a sensitive step, and what it computes with autocast switched off.

Autocast plumbing (`with maybe_autocast(..., enabled=False)`, `torch.autocast(enabled=False)`, a helper that
casts its arguments only under autocast) is folded to one fact: the component runs in its input's dtype
whatever autocast says — what a reader needs to know, not code to read.
"""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.norms import layer_norm_part
from archread.parsers.facts.syntax import EMPTY, calls, dotted, kwarg, leaf, names, walk

AUTOCAST = ("autocast", "maybe_autocast")


def precision_facts(c: Code, layer: str | None) -> list[Fact]:
    out = []
    rotary = next(iter(c.by_role("rotary")), None)
    forward = c.method(rotary, "forward")
    if forward is not None:
        upcast = any(dotted(n.func).endswith(".float") or "float32" in names(n) or "float" in names(n)
                     for n in calls(forward))
        out.append(Fact("precision.rope_float32", upcast, forward.lineno,
                        "" if upcast else "frequencies and positions multiplied in the activation dtype"))
    part = layer_norm_part(c, layer)
    norm = part.cls if part else None
    if c.definer(norm, "forward"):
        cls = c.classes[c.definer(norm, "forward")]
        order = None
        for n in walk(cls):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and "weight" in names(n):
                other = n.right if "weight" in names(n.left) else n.left
                if any(dotted(k.func).endswith((".to", ".type_as")) for k in calls(other)):
                    order = "cast_then_weight"  # Llama: weight * x.to(input_dtype)
                else:
                    order = order or "weight_in_float32"  # Gemma: (x * (1 + w.float())).type_as(x)
        if order:
            out.append(Fact("precision.norm_weight", order, cls.lineno))
    soft = [n for fn in list(c.functions.values()) + [c.method(a, "forward") for a in c.by_role("attention")]
            for n in calls(fn or EMPTY) if leaf(n.func) == "softmax"]
    if soft:
        fp32 = any("float32" in names(n) or any(dotted(k.func).endswith(".float") for k in calls(n)) for n in soft)
        out.append(Fact("precision.softmax_float32", fp32, soft[0].lineno))
    lm = c.method(next(iter(c.by_role("lm head")), None), "forward")
    if lm is not None:
        up = any(dotted(n.func).endswith(".float") for n in calls(lm))
        out.append(Fact("precision.logits_float32", up, lm.lineno))
    off = autocast_off(c)
    if off:
        out.append(Fact("precision.autocast_off", ", ".join(name for name, _ in off), off[0][1],
                        "computed with autocast disabled, in the dtype its inputs arrive in"))
    return out


def autocast_off(c: Code) -> list[tuple[str, int]]:
    """Classes whose forward runs a block under `autocast(enabled=False)`."""
    found = []
    for name, cls in c.classes.items():
        for node in walk(cls):
            if isinstance(node, ast.With) and any(
                    isinstance(item.context_expr, ast.Call) and leaf(item.context_expr.func) in AUTOCAST
                    and isinstance(kwarg(item.context_expr, "enabled"), ast.Constant)
                    and kwarg(item.context_expr, "enabled").value is False for item in node.items):
                found.append((name, node.lineno))
                break
    return found
