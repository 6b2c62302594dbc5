"""Which classes are the model's layers, and which kinds of layer it stacks (attention, sliding, SSM, MoE).

The layers are what the model builds into its list of layers — one class, a conditional choice, or a table
keyed by a configuration list (`ALL_DECODER_LAYER_TYPES[config.layers_block_type[i]]`); the kinds come from
the mixers those layers (or their per-layer alternatives) build and from the configuration's layer lists.
"""

from __future__ import annotations

import ast

from archread.parsers.facts.attention import window_kind
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import constructors, parts
from archread.parsers.facts.syntax import EMPTY, config_field, dotted, line, names, walk

LAYER_LISTS = ("layer_types", "layers_block_type", "hybrid_override_pattern", "block_types", "layers_block_types",
               "attn_layer_indices", "mlp_layer_types")
LAYER_PERIODS = ("attn_layer_period", "attn_layer_offset", "expert_layer_period", "expert_layer_offset",
                 "sliding_window_pattern", "full_attention_interval", "interleave_moe_layer_step", "decoder_sparse_step",
                 "first_k_dense_replace", "moe_layer_freq", "mlp_only_layers", "attn_type_list")


def decoder_layers(c: Code) -> list[tuple[str, str]]:
    """(class, condition) for each class the model builds as a layer, in source order: in __init__ or a method
    it calls (Zamba2's get_layers), with the layers a wrapper layer is handed (Zamba2HybridLayer(attn, mamba))."""
    for cls in c.by_role("model"):
        init = c.method(cls, "__init__")
        helpers = [c.method(cls, n.func.attr) for n in walk(init or EMPTY) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self"]
        for fn in [init, *filter(None, helpers)]:
            found = _built_layers(c, fn, cls)
            if found:
                return list(dict.fromkeys(found))
    layers = c.by_role("decoder layer")
    return [(layers[0], "")] if layers else []


def _built_layers(c: Code, fn: ast.FunctionDef | None, cls: str) -> list[tuple[str, str]]:
    local = {t.id: n.value for n in walk(fn or EMPTY) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
             for t in n.targets if isinstance(t, ast.Name)}

    def built(expr) -> list[tuple[str, str]]:
        expr = local.get(expr.id, expr) if isinstance(expr, ast.Name) else expr
        out = [(n, w) for _, n, w in constructors(c, expr, cls) if n in c.classes]
        if isinstance(expr, ast.Call) and out:  # a layer that wraps the layers it is given
            out += [hit for a in expr.args if isinstance(a, ast.Name) and a.id in local for hit in built(a)]
        return out

    found = []
    for node in walk(fn or EMPTY):
        if not isinstance(node, ast.Call):
            continue
        if dotted(node.func) in ("nn.ModuleList", "ModuleList") and node.args:
            inner = node.args[0]
            elts = [inner.elt] if isinstance(inner, ast.ListComp) else getattr(inner, "elts", [])
            for e in elts:
                found += built(e)
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "append" and node.args:
            found += built(node.args[0])
    return found


def main_layer(c: Code) -> str | None:
    """The layer the block facts read: the first that has an attention (a hybrid's attention layer)."""
    layers = decoder_layers(c)
    for cls, _ in layers:
        if any(p.kind == "attention" for p in parts(c, cls)):
            return cls
    return layers[0][0] if layers else None


def mixer_kind(c: Code, cls: str) -> str:
    """mamba (a selective scan with its dt projection), mamba2 (heads of scalar A, no dt projection), or
    linear_attention (a delta rule or other recurrence without an A_log decay)."""
    attrs = c.attrs(cls)
    called = {dotted(n.func).rsplit(".", 1)[-1] for n in walk(c.classes[cls]) if isinstance(n, ast.Call)}
    reached = set(called)
    for name in called:
        if name in c.functions:
            reached |= {dotted(n.func).rsplit(".", 1)[-1] for n in walk(c.functions[name]) if isinstance(n, ast.Call)}
    if any("delta" in n for n in reached):
        return "linear_attention"
    if "A_log" in attrs and "dt_proj" in attrs:
        return "mamba"
    if "A_log" in attrs:
        return "mamba2"
    return _by_recurrence(c, cls)


def _by_recurrence(c: Code, cls: str) -> str:
    """Without a scan's A_log: linear_attention where queries meet keys in a product (MiniMax's lightning),
    linear_recurrence where a loop carries a state over time without them (RecurrentGemma's RG-LRU), conv where
    nothing recurs (LFM2's gated short convolution)."""
    nodes = [c.classes[cls]]
    for attr, expr in c.attrs(cls).items():
        nodes += [c.classes[n] for n in names(expr) if n in c.classes and n != cls]  # the recurrence's own module
    nodes += [c.functions[dotted(n.func)] for node in list(nodes) for n in walk(node)
              if isinstance(n, ast.Call) and dotted(n.func) in c.functions]
    found = [n for node in nodes for n in walk(node)]

    def product(n) -> bool:
        return (isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)) or (
            isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] in ("matmul", "bmm", "einsum"))
    if any(product(n) and any("query" in m or "key" in m for m in names(n)) for n in found):
        return "linear_attention"
    if any(isinstance(n, ast.For) for n in found) or any(isinstance(n, ast.Call) and "scan" in dotted(n.func).lower()
                                                         for n in found):
        return "linear_recurrence"
    if any(isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] == "Conv1d" for n in walk(c.classes[cls])):
        return "conv"
    return "linear_attention"


def layer_kind_facts(c: Code) -> list[Fact]:
    layers = decoder_layers(c)
    kinds: dict[str, tuple[int | None, str]] = {}
    for cls, when in layers:
        for p in parts(c, cls):
            if p.kind == "attention":
                kinds.setdefault("attention", (line(p.expr), _and(when, p.when)))
            elif p.kind == "mixer":
                kinds.setdefault(mixer_kind(c, p.cls), (line(p.expr), _and(when, p.when)))
    sliding = _sliding_layers(c)
    if sliding and "attention" in kinds:
        kinds["sliding_attention"] = sliding
    out = [Fact("layers.kinds", "+".join(sorted(kinds)) or "none", next((v[0] for v in kinds.values()), None),
                "; ".join(f"{k}: {v[1]}" for k, v in sorted(kinds.items()) if v[1]))]
    declared = [(k, c.config[k]) for k in (*LAYER_LISTS, *LAYER_PERIODS) if k in c.config and c.config[k].value is not None]
    used = names(c.tree)
    declared = [(k, d) for k, d in declared if k in used or len(kinds) > 1]
    if declared and (len(kinds) > 1 or any(k in LAYER_LISTS for k, _ in declared)):
        out.append(Fact("layers.pattern", ", ".join(f"{k}={_short(d.value)}" for k, d in declared), None,
                        declared[0][1].where))
    return out


def _sliding_layers(c: Code):
    """A per-layer sliding window (the attention's own reading): where the code reads a layer's type or flag."""
    if window_kind(c) != "per_layer":
        return None
    marks = {"sliding_attention", "is_sliding", "sliding_window_pattern", "layer_types"}
    hit = next((n for n in walk(c.tree) if isinstance(n, (ast.Constant, ast.Attribute, ast.Name)) and
                (getattr(n, "value", None) in marks or getattr(n, "attr", None) in marks or getattr(n, "id", None) in marks)),
               None)
    return (line(hit) if hit is not None else None, "per layer")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _and(a: str, b: str) -> str:
    return f"{a} and {b}" if a and b else a or b


__all__ = ["decoder_layers", "main_layer", "layer_kind_facts", "config_field"]
