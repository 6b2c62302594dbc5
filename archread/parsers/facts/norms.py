"""The layer's norm: which kind (from its forward, or torch's class), a `1 + w` offset, a bias."""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import parts
from archread.parsers.facts.syntax import calls, dotted, kwarg, leaf, names, passed, walk
from archread.parsers.facts.torch_api import NORM_CLASSES


def layer_norm_part(c: Code, layer: str | None):
    return next((p for p in parts(c, layer) if p.kind == "norm" and p.owner == layer), None) or \
        next((p for p in parts(c, layer) if p.kind == "norm"), None)


def norm_facts(c: Code, layer: str | None) -> list[Fact]:
    part = layer_norm_part(c, layer)
    if part is None:
        return [Fact("norm.kind", "other", None, "no norm in the decoder layer")]
    expr, built = part.expr, part.cls
    short = built.rsplit(".", 1)[-1]
    forward_owner = c.definer(built, "forward") if built in c.classes else None
    if forward_owner is not None:
        body = c.classes[forward_owner]  # forward and the helpers it calls (Gemma's _norm)
        helpers = [c.functions[dotted(n.func)] for n in calls(body) if dotted(n.func) in c.functions]
        called = {leaf(n.func) for node in [body, *helpers] for n in calls(node)}  # FalconMamba 4.x's rms_forward
        torch_base = next((NORM_CLASSES[a.rsplit(".", 1)[-1]] for a in c.ancestors(built)
                           if a.rsplit(".", 1)[-1] in NORM_CLASSES), None)
        if "layer_norm" in called or ("forward" in called and torch_base == "layernorm"):
            kind = "layernorm"
        elif "rsqrt" in called or ("mean" in called and "pow" in called) or "rms_norm" in called or "norm" in called:
            kind = "layernorm" if any(_subtracts_mean(node) for node in [body, *helpers]) else "rmsnorm"
        else:
            kind = torch_base or "other"
        offset = 1 if _adds_one_to_weight(body) else 0
        bias = "bias" in c.attrs(built) or ("bias" in names(body) and kind == "layernorm" and _bias_default(c, built, expr))
        line = c.method(built, "forward").lineno
    else:  # nn.LayerNorm / nn.RMSNorm from torch
        kind = NORM_CLASSES.get(short, "other")
        offset = 0
        bias_arg = kwarg(expr, "bias")
        bias = kind == "layernorm" and (bias_arg is None or bool(c.config_value(bias_arg)))
        affine = kwarg(expr, "elementwise_affine")
        if affine is not None and c.config_value(affine) is False:
            bias = False
        line = expr.lineno
    if _bias_removed(c, part):
        bias = False  # MPT: `self.norm_1.bias = None` after building it
    return [Fact("norm.kind", kind, line, f"{short} in {part.owner}"), Fact("norm.weight_offset", offset, line),
            Fact("norm.bias", bool(bias), line)]


def _subtracts_mean(fn) -> bool:
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and "mean" in names(n.right) for n in walk(fn))


def _adds_one_to_weight(fn) -> bool:
    for n in walk(fn):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            sides = (n.left, n.right)
            if any(isinstance(s, ast.Constant) and s.value == 1 for s in sides) and any("weight" in names(s) for s in sides):
                return True
    return False


def _bias_default(c: Code, cls: str, built: ast.Call) -> bool:
    """A norm subclass of nn.LayerNorm has a bias unless its constructor call or default turns it off."""
    init = c.method(cls, "__init__")
    given = passed(built, init, "bias", implicit=1)
    if given is not None:
        return bool(c.config_value(given))
    args = init.args if init else None
    if args is None:
        return True
    for arg, default in zip(args.args[-len(args.defaults):] if args.defaults else [], args.defaults):
        if arg.arg == "bias":
            return bool(c.config_value(default))
    return True


def _bias_removed(c: Code, part) -> bool:
    init = c.method(part.owner, "__init__")
    for n in walk(init) if init else []:
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and n.value.value is None and any(
                isinstance(t, ast.Attribute) and t.attr == "bias" and isinstance(t.value, ast.Attribute)
                and t.value.attr == part.attr for t in n.targets):
            return True
    return False
