"""The attention's facts: fused projections, biases, qk-norm, softcap, sliding window, scale."""

from __future__ import annotations

import ast

from archread.parsers.facts.branches import live_calls
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import linear_parts, parts
from archread.parsers.facts.scale import head_power
from archread.parsers.facts.syntax import (
    EMPTY,
    calls,
    config_field,
    dotted,
    is_self,
    kwarg,
    leaf,
    line,
    names,
    param_default,
    passed,
    self_call_attr,
    walk,
)

SCALE_ARGS = ("scaling", "scale", "softmax_scale", "alpha", "sm_scale")


def attention_class(c: Code, layer: str | None) -> str | None:
    """The attention that projects q, k, v itself (a wrapper's inner attention), else the first found."""
    found = [p.cls for p in parts(c, layer, into=("module", "attention")) if p.kind == "attention"]
    core = [a for a in found if len(linear_parts(c, a)) >= 2]
    if core or found:
        return (core or found)[0]
    named = c.by_role("attention")
    return named[0] if named else None


def linear_bias(c: Code, call: ast.Call, owner: str | None = None) -> bool:
    """A linear's bias: torch's default is on; `bias=` (by keyword or third position) through config defaults."""
    if dotted(call.func).endswith("Conv1D"):
        return True
    arg = kwarg(call, "bias")
    if arg is None and len(call.args) >= 3:
        arg = call.args[2]
    if arg is None:
        init = c.method(dotted(call.func), "__init__") if dotted(call.func) in c.classes else None
        default = None
        if init is not None:
            default = param_default(init, "bias")
        return True if default is None else bool(c.config_value(default))
    if isinstance(arg, ast.Attribute) and is_self(arg.value):  # bias=self.use_bias, set from config
        arg = c.attrs(owner).get(arg.attr, arg)
    if isinstance(arg, ast.Name) and f"param:{arg.id}" in c.attrs(owner):  # XGLMAttention(..., bias=True)
        arg = _given(c, owner, arg.id) or c.attrs(owner)[f"param:{arg.id}"]
    value = c.config_value(arg)
    if value is None and isinstance(arg, ast.BoolOp):
        value = any(c.config_value(v) for v in arg.values)
    return bool(value)


def _given(c: Code, cls: str | None, param: str):
    """What a class here passes cls's __init__ parameter where it builds cls, or None where none passes it."""
    init = c.method(cls, "__init__")
    for builder in c.classes:
        for n in walk(c.method(builder, "__init__") or EMPTY):
            if isinstance(n, ast.Call) and dotted(n.func) == cls:
                value = passed(n, init, param, implicit=1)
                if value is not None:
                    return value
    return None


def input_projections(c: Code, attn: str):
    """The linears a method applies to its own input (q/k/v or one fused qkv), and the output projection."""
    linears = {p.attr: p.expr for p in linear_parts(c, attn)}
    forward = c.method(attn, "forward")
    inputs, output = [], None
    for fn in [m for m in c.classes[attn].body if isinstance(m, ast.FunctionDef) and m.name != "__init__"]:
        first = fn.args.args[1].arg if len(fn.args.args) > 1 else None
        for call in live_calls(c, fn, attn):
            attr = self_call_attr(call)
            if attr in linears and call.args and first in names(call.args[0]) and attr not in inputs:
                inputs.append(attr)
            elif attr in linears and fn is forward:
                output = attr
    return linears, inputs, output


def feeds_linear(c: Code, attn: str, norm_attr: str) -> bool:
    """A norm whose output goes into another projection is a latent's norm (MLA), not a q/k norm."""
    linears = {p.attr for p in linear_parts(c, attn)}
    methods = [m for m in c.classes[attn].body if isinstance(m, ast.FunctionDef)]
    linears |= {m.name for m in methods if m.name != "forward" and any(self_call_attr(k) in linears for k in calls(m))}
    for fn in methods:
        normed = set()
        for stmt in ast.walk(fn):
            if isinstance(stmt, ast.Call) and self_call_attr(stmt) in linears:
                inner = {self_call_attr(n) for n in walk(stmt) if isinstance(n, ast.Call)}
                if norm_attr in inner or normed & names(stmt):
                    return True
            if isinstance(stmt, ast.Assign) and any(self_call_attr(n) == norm_attr for n in walk(stmt.value)
                                                    if isinstance(n, ast.Call)):
                normed |= {n.id for t in stmt.targets for n in walk(t) if isinstance(n, ast.Name)}
    return False


def _o_bias(c: Code, layer: str | None, attn: str, linears: dict, output: str | None) -> Fact:
    """The output projection's bias: the attention's own, else the first projection of the wrapper that holds
    it, outside it (BertAttention: BertSelfAttention, then BertSelfOutput.dense)."""
    if output is not None:
        return Fact("attn.o_bias", linear_bias(c, linears[output], attn), line(linears[output]))
    every = parts(c, layer, into=("module", "attention"))
    inner = next((p for p in every if p.cls == attn), None)
    if inner is not None and "." in inner.path:
        wrapper = inner.path.rsplit(".", 1)[0]
        outside = [p for p in every if p.kind == "linear" and p.path.startswith(wrapper + ".")
                   and not p.path.startswith(inner.path + ".")]
        if outside:
            return Fact("attn.o_bias", linear_bias(c, outside[0].expr, outside[0].owner), line(outside[0].expr))
    return Fact("attn.o_bias", False, None)


def attention_facts(c: Code, layer: str | None) -> list[Fact]:
    attn = attention_class(c, layer)
    if attn is None:
        return []
    forward = c.method(attn, "forward")
    linears, inputs, output = input_projections(c, attn)
    own_norms = [p for p in parts(c, attn, into=()) if p.kind == "norm"]
    qk = [p for p in own_norms if not feeds_linear(c, attn, p.attr)]
    first = linears[inputs[0]] if inputs else None
    out = [
        Fact("attn.qk_norm", bool(qk), line(qk[0].expr) if qk else line(forward)),
        Fact("attn.fused_qkv", len(inputs) == 1, line(first)),
        Fact("attn.qkv_bias", any(linear_bias(c, linears[a], attn) for a in inputs), line(first)),
        _o_bias(c, layer, attn, linears, output),
    ]
    callee = [c.functions[dotted(n.func)] for n in calls(forward) if dotted(n.func) in c.functions]
    soft = any("tanh" in {leaf(n.func) for n in calls(node)} for node in [forward] + callee)
    if soft and callee:  # the eager function's softcap is on only where the caller passes one
        given = [passed(n, c.functions[dotted(n.func)], "softcap") for n in calls(forward) if dotted(n.func) in c.functions]
        soft = any(p is not None and not (isinstance(p, ast.Constant) and p.value is None) and
                   c.config_value(c.attrs(attn).get(getattr(p, "attr", ""), p)) is not None for p in given)
    out.append(Fact("attn.softcap", soft, line(forward)))
    out.append(sliding(c, attn))
    out.append(_scale(c, attn, forward, callee))
    return out


def _scale(c: Code, attn: str, forward, callee) -> Fact:
    """Every scale the forward applies to the scores, read by value; none written: torch's default."""
    found: list[tuple[float | None, int]] = []
    for call in calls(forward or EMPTY):
        fn = c.functions.get(dotted(call.func))
        for name in SCALE_ARGS:
            given = kwarg(call, name) if fn is None else passed(call, fn, name, implicit=0)
            if given is not None and not (isinstance(given, ast.Constant) and given.value is None):
                found.append((head_power(c, given, attn), call.lineno))
    for n in walk(forward or EMPTY):
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)):
            left, right = head_power(c, n.left, attn), head_power(c, n.right, attn)
            if (left is None) == (right is None):
                continue  # neither side is a scale (or both are numbers): not the scores' scale
            side, power = (n.right, right) if right is not None else (n.left, left)
            tensor = n.left if side is n.right else n.right
            if not _tensor(tensor):
                continue  # shape arithmetic: 3 * self.head_size
            if isinstance(n.op, ast.Div):
                if side is n.left:
                    continue
                power = -power
            found.append((power, n.lineno))
    if not found and "scaling" in c.attrs(attn):
        found.append((head_power(c, c.attrs(attn)["scaling"], attn), line(c.attrs(attn)["scaling"])))
    if not found:
        bare = _unscaled_softmax(c, attn)
        if bare is not None:  # the scores computed here and never scaled (GPT-Neo): a scale of 1, not 1/√d
            return Fact("attn.scale", "custom", bare, "scores never scaled")
    # scales multiply: OPT scales q by 1/√d and passes scaling=1.0 on
    custom = bool(found) and (any(p is None for p, _ in found) or abs(sum(p for p, _ in found) + 0.5) > 1e-9)
    return Fact("attn.scale", "custom" if custom else "head_dim", found[0][1] if found else line(forward))


def _unscaled_softmax(c: Code, attn: str) -> int | None:
    """The line of a softmax over scores that a method of attn (or a function it calls) computes itself, where
    that function multiplies or divides nothing: no kernel's default scale applies and none is written."""
    methods = [m for k in [attn, *c.ancestors(attn)] if k in c.classes for m in c.classes[k].body
               if isinstance(m, ast.FunctionDef) and m.name != "__init__"]
    reached = methods + [c.functions[dotted(n.func)] for m in methods for n in calls(m) if dotted(n.func) in c.functions]
    if any(leaf(n.func) in ("scaled_dot_product_attention", "flash_attn_func", "flex_attention")
           or ("attention" in dotted(n.func).lower() and dotted(n.func) not in c.functions and dotted(n.func) not in c.classes)
           for fn in reached for n in calls(fn)):
        return None
    for fn in reached:
        soft = [n for n in calls(fn) if leaf(n.func) == "softmax"]
        if soft and _is_scores(fn) and not any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div))
                                               for n in walk(fn)):
            return soft[0].lineno
    return None


def _tensor(node) -> bool:
    """A tensor expression: a call (not int/len), a matrix product, or a local variable."""
    return any((isinstance(n, ast.Call) and dotted(n.func) not in ("int", "len", "float", "getattr")) or
               (isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)) for n in walk(node)) or isinstance(node, ast.Name)


def _is_scores(node) -> bool:
    return any((isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)) or
               (isinstance(n, ast.Call) and leaf(n.func) in ("matmul", "bmm", "baddbmm", "einsum")) for n in walk(node)) \
        or any(k in names(node) for k in ("query_states", "query", "q", "query_layer", "attn_weights", "scores"))


def sliding(c: Code, attn: str) -> Fact:
    value = c.config.get("sliding_window")
    return Fact("attn.sliding_window", window_kind(c), line(c.classes[attn]), value.where if value else "")


def window_kind(c: Code) -> str:
    """none, all (every layer's attention slides), per_layer (a layer's type or flag picks the window)."""
    everything = names(c.tree)
    sliding_mask = any(n in everything for n in ("create_sliding_window_causal_mask", "sliding_window"))
    value = c.config.get("sliding_window")
    switch = c.config.get("use_sliding_window")  # a window the config declares but switches off
    uses_window = sliding_mask and (value is None or value.value is not None) and not (switch and switch.value is False)
    per_layer = uses_window and bool({"layer_types", "sliding_attention", "is_sliding", "sliding_window_pattern"} & everything)
    if not uses_window:
        band = _band_mask(c)
        uses_window, per_layer = band is not None, bool(band)
    return "per_layer" if per_layer else "all" if uses_window else "none"


def _band_mask(c: Code) -> bool | None:
    """A causal mask banded by a configured width (`torch.tril(bias, -config.window_size)`): None where there is
    none; True where an `if` on a string-valued choice (a layer's attention type) builds it, False where always."""
    def band(node) -> bool:
        return any(isinstance(n, ast.Call) and leaf(n.func) in ("tril", "triu") and len(n.args) > 1
                   and any(config_field(k) for k in walk(n.args[1])) for n in walk(node))

    if not band(c.tree):
        return None
    return any(isinstance(n, ast.If) and any(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in walk(n.test))
               and any(band(stmt) for stmt in n.body) for n in walk(c.tree))


def reads_projection(c: Code, attn: str, norm_attr: str) -> bool:
    """A norm applied to a projection's output (directly, or a variable split off one): q_a_proj → q_a_layernorm."""
    linears = {p.attr for p in linear_parts(c, attn)}
    for fn in [m for m in c.classes[attn].body if isinstance(m, ast.FunctionDef)]:
        projected = set()
        for stmt in [s for s in ast.walk(fn) if isinstance(s, ast.Assign)]:
            if any(isinstance(n, ast.Call) and self_call_attr(n) in linears for n in walk(stmt.value)) or \
                    projected & names(stmt.value):
                projected |= {n.id for t in stmt.targets for n in walk(t) if isinstance(n, ast.Name)}
        for call in calls(fn):
            if self_call_attr(call) == norm_attr and call.args and (
                    any(isinstance(n, ast.Call) and self_call_attr(n) in linears for n in walk(call.args[0]))
                    or projected & names(call.args[0])):
                return True
    return False
