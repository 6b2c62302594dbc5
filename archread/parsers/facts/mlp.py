"""The feed-forward, wherever it lives: an MLP class, a MoE's experts, modules that are not the attention
(BERT's intermediate and output), or the layer's own projections (OPT's fc1/fc2)."""

from __future__ import annotations

import ast

from archread.parsers.facts.activations import act_name, body_act, unknown
from archread.parsers.facts.attention import linear_bias
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import Part, linear_parts, parts
from archread.parsers.facts.syntax import EMPTY, calls, dotted, leaf, line, self_call_attr, walk
from archread.parsers.facts.torch_api import ACT_CALLS, multiplies_halves


def feed_forward(c: Code, layer: str | None) -> list[tuple[str, ast.Call | None, str | None]]:
    """(class, the call that built it, the class that built it) for the classes computing the feed-forward."""
    found = parts(c, layer, into=("module", "moe"))
    mlps = [p for p in found if p.kind == "mlp"]
    moe = [p for p in found if p.kind == "moe"]
    routed = [p for p in found if p.cls in c.classes and is_experts(c, p) and _has_activation(c, p.cls)]
    if moe and routed:  # a MoE layer's feed-forward is its experts' (a shared expert or a dense layer's MLP aside)
        return [(routed[0].cls, routed[0].expr, routed[0].owner)]
    holders = [m for m in moe if _has_activation(c, m.cls) and any(
        p.owner == m.cls and p.cls in c.classes and is_experts(c, p) for p in found)]
    if holders:  # the MoE block applies the activation between its stacked experts (GraniteMoe 4.x)
        return [(holders[0].cls, holders[0].expr, holders[0].owner)]
    if mlps:
        routed = [p for p in mlps if not any(p.path.startswith(m.path + ".") for m in moe)] if moe else mlps
        pick = (routed or mlps)[0]
        return [(pick.cls, pick.expr, pick.owner)]
    inside = [p for p in found if p.kind in ("moe", "module") and p.cls in c.classes
              and any(p.path == m.path or p.path.startswith(m.path + ".") or m.path.startswith(p.path + ".") for m in moe)]
    experts = [p for p in inside if _has_weights(c, p.cls) and _has_activation(c, p.cls)]
    if experts:  # the experts' own weights and activation, not the router's projection
        return [(experts[-1].cls, experts[-1].expr, experts[-1].owner)]
    modules = [p for p in found if p.kind == "module" and linear_parts(c, p.cls)
               and not any(q.kind in ("attention", "mixer") for q in parts(c, p.cls))
               and not any(x.kind == "attention" and p.path.startswith(x.path + ".") for x in found)]
    if modules:
        return [(p.cls, p.expr, p.owner) for p in modules]
    # the layer's own projections (OPT's fc1/fc2); a layer with none has no feed-forward (Mamba: the mixer only)
    return [(layer, None, None)] if layer and linear_parts(c, layer) else []


def is_experts(c: Code, part: Part) -> bool:
    """The routed experts: a list of modules (`nn.ModuleList([MLP(config) for _ in range(n)])`), or one module
    whose weights stack the experts (`nn.Parameter(torch.empty(num_experts, 2 * inter, hidden))`)."""
    built = c.attrs(part.owner).get(part.attr)
    if isinstance(built, ast.Call) and leaf(built.func) == "ModuleList":
        return True
    return any(isinstance(e, ast.Call) and leaf(e.func) == "Parameter" and e.args and isinstance(e.args[0], ast.Call)
               and leaf(e.args[0].func) in ("empty", "zeros", "randn", "ones") and len(e.args[0].args) >= 3
               for e in c.attrs(part.cls).values())


def _held_activation(c: Code, cls: str) -> bool:
    return any(act_name(c, e, cls) is not None for k, e in c.attrs(cls).items()
               if not k.startswith(("local:", "config:", "param:")))


def _has_activation(c: Code, cls: str) -> bool:
    return _held_activation(c, cls) or bool(method_activations(c, cls))


def method_activations(c: Code, cls: str) -> dict[str, tuple]:
    """A method the class calls on itself whose body is an activation (GPT-OSS's `_apply_gate`: clamp, then
    `(up + 1) * gate * sigmoid(gate * alpha)`): name -> (activation, where, gated in itself). Only in a class
    that holds no activation of its own: beside one, such a method is a filter (Gemma3n's sparsity top-k)."""
    if _held_activation(c, cls):
        return {}
    called = {self_call_attr(k) for fn in _methods(c, cls) for k in calls(fn)} - {None}
    out = {}
    for fn in _methods(c, cls):
        if fn.name in called and fn.name != "forward":
            found = body_act(c, fn, owner=cls)
            if found:
                out[fn.name] = (found, f"body of {cls}.{fn.name}", multiplies_halves(fn))
    return out


def _has_weights(c: Code, cls: str) -> bool:
    return any(isinstance(e, ast.Call) and leaf(e.func) == "Parameter" for e in c.attrs(cls).values()) or bool(
        linear_parts(c, cls))


def mlp_facts(c: Code, layer: str | None) -> list[Fact]:
    found = parts(c, layer, into=("module",))
    moe = [p for p in found if p.kind == "moe"]
    out = [Fact("mlp.moe", bool(moe), line(moe[0].expr) if moe else line(c.classes.get(layer or "")),
                when=moe[0].when if moe else "")]
    sites = feed_forward(c, layer)
    if not sites:
        return out
    acts, gated, fused, biases, first_linear, fwd_line = [], False, False, [], None, None
    for cls, built_by, caller in sites:
        attn = {p.attr for p in parts(c, cls, into=()) if p.kind in ("attention", "mixer", "norm")}
        forward = c.method(cls, "forward")
        fwd_line = fwd_line or line(forward)
        as_act = method_activations(c, cls)
        for fn in _methods(c, cls):
            if fn.name in as_act:
                continue  # read whole at its call
            for call in calls(fn):
                attr = self_call_attr(call)
                found_act = as_act.get(attr) if attr in as_act else _call_activation(c, call, cls, built_by, caller)
                if found_act is None or self_call_attr(call) in attn:
                    continue
                acts.append((found_act, call))
                if found_act[2]:
                    gated = fused = True
                elif _multiplied(fn, call):
                    gated = True
        linears = [p for p in linear_parts(c, cls) if p.attr not in attn]
        first_linear = first_linear or (linears[0].expr if linears else None)
        biases += [linear_bias(c, p.expr, cls) for p in linears]
        if not linears:
            biases.append(any("bias" in a for a in c.attrs(cls)))
        if gated and not fused:
            fused = len(linears) == 2 or any(leaf(k.func) in ("chunk", "split") for k in calls(forward or EMPTY))
    out += [Fact("mlp.gated", gated, fwd_line), Fact("mlp.fused_gate_up", bool(gated and fused), fwd_line),
            Fact("mlp.bias", any(biases), line(first_linear))]
    if acts:
        (name, where, _), call = acts[0]
        out.append(Fact("mlp.activation", name, call.lineno, where))
    else:
        out.append(unknown())
    return out


def _methods(c: Code, cls: str) -> list[ast.FunctionDef]:
    """The methods an instance of cls runs, its own or inherited from a class here (a modular file's
    Gemma2MLP runs GemmaMLP's forward with its own act_fn), __init__ aside."""
    named = [m.name for k in [cls, *c.ancestors(cls)] if k in c.classes for m in c.classes[k].body
             if isinstance(m, ast.FunctionDef) and m.name != "__init__"]
    return [c.method(cls, name) for name in dict.fromkeys(named)]


def _call_activation(c: Code, call: ast.Call, cls: str, built_by, caller):
    """(activation, where, gated-in-itself) a call applies, or None."""
    attr = self_call_attr(call)
    if attr is not None:
        expr = c.attrs(cls).get(attr)
        if expr is None:
            return None
        named = act_name(c, expr, cls, built_by, caller=caller)
        if named is None:
            return None
        body = c.classes.get(dotted(expr.func)) if isinstance(expr, ast.Call) else c.functions.get(dotted(expr))
        return (*named, multiplies_halves(body))
    name = dotted(call.func)
    if name in c.functions:
        found = body_act(c, c.functions[name])
        return (found, f"body of {name}", multiplies_halves(c.functions[name])) if found else None
    if leaf(call.func) in ACT_CALLS and "." in name:
        from archread.parsers.facts.torch_api import act_of_call
        return act_of_call(call), name, False
    return None


def _multiplied(fn: ast.FunctionDef, act_call: ast.Call) -> bool:
    """act(gate(x)) * up(x): the activation's output is one factor of a product (also through a variable)."""
    for n in walk(fn):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and act_call in walk(n.left) + walk(n.right):
            return True
    targets = set()
    for stmt in ast.walk(fn):
        if isinstance(stmt, ast.Assign) and stmt.value is act_call:  # h = act(gate(x)); not down(act(x)) * weights
            targets |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and
               any(isinstance(s, ast.Name) and s.id in targets for s in (n.left, n.right)) for n in walk(fn))


__all__ = ["Part", "mlp_facts", "feed_forward"]
