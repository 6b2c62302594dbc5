"""A mixture of experts: how many, how many chosen, shared experts, how the router scores and normalises,
and on which layers (a per-layer choice keeps its condition)."""

from __future__ import annotations

import ast
import re

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.layers import decoder_layers
from archread.parsers.facts.mlp import is_experts
from archread.parsers.facts.parts import parts
from archread.parsers.facts.syntax import EMPTY, calls, config_field, dotted, kwarg, leaf, passed, self_call_attr, walk


def moe_facts(c: Code) -> list[Fact]:
    block, when = None, ""
    for layer, layer_when in decoder_layers(c):
        found = [p for p in parts(c, layer, into=("module",)) if p.kind == "moe"]
        if found:
            block = found[0]
            every = {p.path: p for p in parts(c, layer, into=("module",))}
            parent = every.get(block.path.rsplit(".", 1)[0]) if "." in block.path else None
            if parent is not None and parent.kind == "module":
                block = parent  # DbrxFFN holds the router and the experts
            when = " and ".join(w for w in (layer_when, block.when) if w)
            break
    if block is None:
        return []
    tree = [block.cls] + [p.cls for p in parts(c, block.cls, into=("module", "moe", "mlp")) if p.cls in c.classes]
    classes = [c.classes[n] for n in dict.fromkeys(tree) if n in c.classes]
    at = block.expr.lineno
    out = []
    experts = _experts(c, tree)
    if experts:
        out.append(Fact("moe.experts", experts[0], experts[1], experts[2]))
    top_k = _top_k(c, tree)
    if top_k:
        out.append(Fact("moe.top_k", top_k[0], top_k[1], top_k[2]))
    topk_line = min((k.lineno for cls in classes for k in calls(cls) if leaf(k.func) == "topk"), default=None)
    routers = [cls for cls in classes if not _stacks_experts(c, cls.name)] or classes  # not the experts' own gate
    scores = [(k.lineno, leaf(k.func)) for cls in routers for k in calls(cls) if leaf(k.func) in ("softmax", "sigmoid")]
    if scores:
        first_line, kind = min(scores)
        order = "" if topk_line is None else " then top-k" if first_line <= topk_line else " after top-k"
        renormalised = kind == "softmax" and order == " after top-k"
        if renormalised:  # softmax over the k best logits is the top-k of the softmax, renormalised: one math
            order = " then top-k"
        out.append(Fact("moe.router", f"{kind}{order}", first_line,
                        "softmax over the top-k logits" if renormalised else ""))
    norm = any(_divides_by_sum(cls) for cls in classes) or (bool(scores) and renormalised)
    out.append(Fact("moe.norm_topk", norm, topk_line or at))
    shared = [p for p in parts(c, block.cls, into=()) if p.kind == "mlp" and not is_experts(c, p)] \
        or _added_beside(c, block)
    count = 0
    if shared:
        fields = [config_field(n) for n in walk(shared[0].expr) if config_field(n)]
        field = next((f for f in fields if "shared" in f and "size" not in f and f in c.config), None)
        count = c.config[field].value if field and isinstance(c.config[field].value, int) else 1
    out.append(Fact("moe.shared_experts", count, shared[0].expr.lineno if shared else at))
    out.append(Fact("moe.layers", "per_layer" if when else "all", at, _with_defaults(c, when), when))
    return out


def _added_beside(c: Code, block) -> list:
    """A dense MLP of the layer whose output is added to the MoE block's (`moe(h) + shared_mlp(h)`,
    GraniteMoeHybrid): a shared expert kept in the layer rather than in the block."""
    if "." in block.path:
        return []
    dense = {p.attr: p for p in parts(c, block.owner, into=()) if p.kind == "mlp"}
    for n in walk(c.method(block.owner, "forward") or EMPTY):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            sides = [{self_call_attr(k) for k in calls(side)} for side in (n.left, n.right)]
            for mine, other in (sides, sides[::-1]):
                if block.attr in mine:
                    hit = next((dense[a] for a in other if a in dense), None)
                    if hit is not None:
                        return [hit]
    return []


def _stacks_experts(c: Code, cls: str) -> bool:
    """The experts' weights stacked in one class (`nn.Parameter(torch.empty(n_experts, a, b))`)."""
    return any(isinstance(e, ast.Call) and leaf(e.func) == "Parameter" and e.args and isinstance(e.args[0], ast.Call)
               and len(e.args[0].args) >= 3 for e in c.attrs(cls).values())


def _with_defaults(c: Code, when: str) -> str:
    fields = sorted(set(re.findall(r"config\.(\w+)", when)))
    return ", ".join(f"{f}={c.config[f].value!r}" for f in fields if f in c.config)


def _config_of(c: Code, expr, owner, depth: int = 0) -> tuple[object, str] | None:
    expr = c.resolve(expr, owner)
    for n in walk(expr):
        field = config_field(n)
        if field and c.default(field):
            default = c.default(field)
            return default.value, f"config.{field} ({default.where})"
    if isinstance(expr, ast.Constant) and isinstance(expr.value, int):
        return expr.value, "literal"
    if isinstance(expr, ast.Name) and depth < 3:  # a parameter: what the class that builds owner passes it
        init = c.method(owner, "__init__")
        for builder in c.classes:
            for built in walk(c.method(builder, "__init__") or EMPTY):
                if isinstance(built, ast.Call) and dotted(built.func) == owner:
                    given = passed(built, init, expr.id, implicit=1)
                    found = _config_of(c, given, builder, depth + 1) if given is not None else None
                    if found:
                        return found
    if isinstance(expr, ast.Name) and c.default(expr.id):  # a parameter the caller fills from the field it is named for
        default = c.default(expr.id)
        return default.value, f"{expr.id} ({default.where})"
    return None


def _experts(c: Code, tree: list[str]):
    for cls in tree:
        for n in walk(c.classes[cls]):
            expr = None
            if isinstance(n, ast.Call) and dotted(n.func) == "range" and n.args and any(
                    "ModuleList" in dotted(k.func) for k in walk(c.classes[cls]) if isinstance(k, ast.Call)):
                expr = n.args[-1]
            elif isinstance(n, ast.Call) and leaf(n.func) == "one_hot":
                expr = kwarg(n, "num_classes") or (n.args[1] if len(n.args) > 1 else None)
                if isinstance(expr, ast.BinOp):
                    expr = expr.left  # num_experts + 1: the dropped tokens' slot
            elif isinstance(n, ast.Call) and leaf(n.func) in ("empty", "zeros", "randn") and len(n.args) >= 3:
                expr = n.args[0]
            if expr is not None:
                found = _config_of(c, expr, cls)
                if found and isinstance(found[0], int):
                    return found[0], n.lineno, found[1]
    return None


def _top_k(c: Code, tree: list[str]):
    """The last top-k a router takes: DeepSeek's first picks groups, its last picks the experts."""
    for cls in tree:
        for n in reversed(calls(c.classes[cls])):
            if leaf(n.func) == "topk":
                method = isinstance(n.func, ast.Attribute) and dotted(n.func.value) != "torch"  # logits.topk(k)
                expr = kwarg(n, "k") or (n.args[0] if method and n.args else n.args[1] if len(n.args) > 1 else None)
                found = _config_of(c, expr, cls) if expr is not None else None
                if found and found[0] is not None:
                    return found[0], n.lineno, found[1]
    return None


def _divides_by_sum(cls: ast.ClassDef) -> bool:
    """w / w.sum(-1), also through a variable (`denominator = w.sum(…) + eps; w /= denominator`); a p-norm too."""
    summed = {t.id for n in walk(cls) if isinstance(n, ast.Assign) and any(
        isinstance(k, ast.Call) and leaf(k.func) in ("sum", "norm") for k in walk(n.value))
        for t in n.targets if isinstance(t, ast.Name)}
    for n in walk(cls):
        if isinstance(n, (ast.BinOp, ast.AugAssign)) and isinstance(n.op, ast.Div):
            right = n.right if isinstance(n, ast.BinOp) else n.value
            if any((isinstance(k, ast.Call) and leaf(k.func) in ("sum", "norm")) or
                   (isinstance(k, ast.Name) and k.id in summed) for k in walk(right)):
                return True
    return False
