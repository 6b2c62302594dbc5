"""The module tree a class builds in `__init__`, each submodule with its kind: what the facts walk.

A submodule's kind comes from what it is — torch's `nn.Linear`/`nn.LayerNorm`, a local subclass of them
(`FalconLinear(nn.Linear)`), or a local class named by its role — and a class that only wraps others
(`DbrxNormAttentionNorm`, `BertAttention` with its output projection and norm) is walked through. Where the
code picks a submodule per layer (`MoE(config) if layer_idx >= k else MLP(config)`, `MIXER_TYPES[block_type]`)
every alternative is kept with its condition.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from archread.parsers.components import role_of
from archread.parsers.facts.code import Code
from archread.parsers.facts.syntax import dotted, leaf, walk
from archread.parsers.facts.torch_api import LINEAR_CLASSES, NORM_CLASSES

MIXER_MARKS = {"A_log", "dt_bias", "dt_proj", "conv1d"}  # what a state-space / linear-attention mixer holds
SCAN_MARKS = {"A_log", "dt_bias", "dt_proj"}  # a state-space scan's own parameters: a mixer wherever it is built


@dataclass(frozen=True)
class Part:
    path: str  # "self_attn.q_proj": the attribute path from the class asked about
    owner: str  # the class whose __init__ builds it
    cls: str  # the class built, as called: "nn.Linear", "FalconLinear"
    kind: str  # linear, norm, attention, mlp, moe, mixer, embedding, conv, module (a local class walked into), other
    expr: ast.Call
    when: str = ""  # the condition under which this alternative is built

    @property
    def attr(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def local(self) -> str:
        return leaf(ast.Name(id=self.cls)) if "." not in self.cls else self.cls.rsplit(".", 1)[-1]


def constructors(c: Code, expr: ast.expr | None, owner: str | None, when: str = "") -> list[tuple[ast.Call, str, str]]:
    """(call, class name, condition) for each class an __init__ expression may build."""
    if expr is None:
        return []
    if isinstance(expr, ast.IfExp):
        cond = ast.unparse(expr.test)
        return [*constructors(c, expr.body, owner, _and(when, cond)),
                *constructors(c, expr.orelse, owner, _and(when, f"not ({cond})"))]
    if not isinstance(expr, ast.Call):
        return []
    func = expr.func
    if dotted(func) in ("nn.ModuleList", "ModuleList", "nn.Sequential") and expr.args:
        inner = expr.args[0]
        elts = inner.elts if isinstance(inner, (ast.List, ast.Tuple)) else [inner.elt] if isinstance(inner, ast.ListComp) else []
        return [hit for e in elts for hit in constructors(c, e, owner, when)]
    if isinstance(func, ast.Name) and func.id not in c.classes:
        alias = c.attrs(owner).get(f"local:{func.id}")
        options = c.choices(owner).get(f"local:{func.id}") or ([(alias, "")] if alias is not None else [])
        found = []
        for option, cond in options:
            for name in _class_names(c, option):
                found.append((expr, name, _and(when, cond)))
        if found:
            return found
    if isinstance(func, ast.Subscript) and isinstance(func.value, ast.Name) and isinstance(c.globals.get(func.value.id), ast.Dict):
        table = c.globals[func.value.id]
        key = ast.unparse(func.slice)
        return [(expr, dotted(v), _and(when, f"{key} == {ast.unparse(k)}")) for k, v in zip(table.keys, table.values)
                if k is not None and dotted(v)]
    return [(expr, dotted(func), when)] if dotted(func) else []


def _class_names(c: Code, expr) -> list[str]:
    if isinstance(expr, ast.IfExp):
        return _class_names(c, expr.body) + _class_names(c, expr.orelse)
    return [dotted(expr)] if dotted(expr) in c.classes else []


def kind_of(c: Code, cls: str) -> str:
    short = cls.rsplit(".", 1)[-1]
    if short in LINEAR_CLASSES:
        return "linear"
    if short in NORM_CLASSES:
        return "norm"
    if short == "Embedding":
        return "embedding"
    if short in ("Conv1d", "Conv2d"):
        return "conv"
    if cls not in c.classes:
        return "other"
    ancestors = {a.rsplit(".", 1)[-1] for a in c.ancestors(cls)}
    if ancestors & LINEAR_CLASSES:
        return "linear"
    if ancestors & set(NORM_CLASSES):
        return "norm"
    role = role_of(cls, True)
    built = _built_kinds(c, cls)
    if (MIXER_MARKS & set(c.attrs(cls)) or "linear" in built) and "conv" in built and role != "attention":
        return "mixer"  # a causal convolution among projections: an SSM, a gated recurrence or a short conv
    if role == "attention" and not _normalises_scores(c, cls):
        return "mixer"  # named an attention but no softmax over scores: a linear attention (MiniMax's lightning)
    if role == "norm" and not built - {"norm", "other"}:
        return "norm"
    if role in ("mlp", "other") and _holds_experts(c, cls):
        return "moe"  # GptOssMLP: a router and stacked experts, named a feed-forward
    if role in ("attention", "mlp", "moe", "embedding"):
        return role
    return "module"


SOFTMAX_ATTENTION = ("softmax", "scaled_dot_product_attention", "flash_attn_func", "flex_attention")


def _normalises_scores(c: Code, cls: str) -> bool:
    """The class (its methods, the module functions they call, two levels down) takes a softmax over scores or
    calls an attention kernel or a function of archread's prelude: softmax attention."""
    todo = [c.classes[k] for k in [cls, *c.ancestors(cls)] if k in c.classes]
    seen: set[str] = set()
    for _ in range(3):
        nxt = []
        for node in todo:
            for n in walk(node):
                if not isinstance(n, ast.Call):
                    continue
                name = dotted(n.func)
                if leaf(n.func).lower() in SOFTMAX_ATTENTION or ("attention" in name.lower() and name not in c.classes
                                                                 and name not in c.functions):
                    return True  # F.softmax, nn.Softmax(dim=-1)(w), a prelude attention
                if name in c.functions and name not in seen:
                    seen.add(name)
                    nxt.append(c.functions[name])
                elif name in c.classes and name not in seen:  # BertAttention builds BertSelfAttention
                    seen.add(name)
                    nxt.append(c.classes[name])
        todo = nxt
    return False


def _holds_experts(c: Code, cls: str) -> bool:
    """cls routes (a top-k among what it or the classes it builds compute) to a local class whose weights stack
    the experts (`nn.Parameter(torch.empty(n_experts, a, b))`); stacked weights alone are no experts (Moshi's
    per-codebook linears)."""
    built = [name for attr, expr in c.attrs(cls).items() if not attr.startswith(("local:", "config:", "param:"))
             for _, name, _ in constructors(c, expr, cls) if name in c.classes and name != cls]
    if not any(isinstance(n, ast.Call) and leaf(n.func) == "topk" for k in [cls, *built] for n in walk(c.classes[k])):
        return False
    for name in built:
        if any(isinstance(e, ast.Call) and leaf(e.func) == "Parameter" and e.args and isinstance(e.args[0], ast.Call)
               and leaf(e.args[0].func) in ("empty", "zeros", "randn", "ones") and len(e.args[0].args) >= 3
               for e in c.attrs(name).values()):
            return True
    return False


def _built_kinds(c: Code, cls: str) -> set[str]:
    out = set()
    for attr, expr in c.attrs(cls).items():
        if attr.startswith(("local:", "config:", "param:")):
            continue
        for _, name, _ in constructors(c, expr, cls):
            short = name.rsplit(".", 1)[-1]
            out.add("linear" if short in LINEAR_CLASSES else "norm" if short in NORM_CLASSES else
                    "conv" if short in ("Conv1d",) else "local" if name in c.classes else "other")
    return out


def parts(c: Code, cls: str | None, into: tuple[str, ...] = ("module",), _path: str = "", _when: str = "",
          _seen: frozenset = frozenset()) -> list[Part]:
    """Every submodule cls builds, walked into the local classes whose kind is in `into`."""
    if cls is None or cls not in c.classes or cls in _seen:
        return []
    out = []
    attrs = c.attrs(cls)
    alts = c.choices(cls)
    for attr, expr in attrs.items():
        if attr.startswith(("local:", "config:", "param:")):
            continue
        options = alts.get(attr) or [(expr, "")]
        for option, cond in options:
            for call, name, when in constructors(c, option, cls, _and(_when, cond)):
                kind = kind_of(c, name)
                part = Part(f"{_path}{attr}", cls, name, kind, call, when)
                if kind == "mixer" and not SCAN_MARKS & set(c.attrs(name)) and not _instead_of_attention(c, cls, attr, when):
                    part = Part(part.path, cls, name, "module", call, when)  # a conv beside the mixing, not one
                out.append(part)
                if name in c.classes and kind in into:
                    out += parts(c, name, into, f"{part.path}.", when, _seen | {cls})
    return out


def _instead_of_attention(c: Code, cls: str, attr: str, when: str) -> bool:
    """A mixer known only by its convolution counts where the layer builds it in the attention's place: the same
    attribute (RecurrentGemma's temporal_block table) or the other branch of the attention's condition (LFM2)."""
    for other, expr in c.attrs(cls).items():
        for option, cond in c.choices(cls).get(other) or [(expr, "")]:
            for _, name, w in constructors(c, option, cls, cond):
                if name in c.classes and kind_of(c, name) == "attention" and (
                        other == attr or (w and when and (w == f"not ({when})" or when == f"not ({w})"))):
                    return True
    return False


def linear_parts(c: Code, cls: str | None) -> list[Part]:
    """The class's own linear layers (not those of its submodules)."""
    return [p for p in parts(c, cls, into=()) if p.kind == "linear"]


def mentions(c: Code, cls: str, attr_names: set[str]) -> bool:
    return bool(attr_names & {n.attr for n in walk(c.classes[cls]) if isinstance(n, ast.Attribute)})


def _and(a: str, b: str) -> str:
    return f"{a} and {b}" if a and b else a or b
