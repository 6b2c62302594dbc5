"""Keywords: an argument whose keyword only repeats what the reader already knows goes positional.

`self.self_attn(hidden_states=self.input_layernorm(hidden_states), position_embeddings=position_embeddings,
attention_mask=attention_mask)` says each name twice; where the callee is a definition of the module (resolved
as the signatures pass resolves calls) and the keywords fill its next parameters in order, the call reads
`self.self_attn(self.input_layernorm(hidden_states), position_embeddings, attention_mask)`. A call's keywords go
only where every one fills the callee's first parameter (the call's subject) or a value carrying the same name
(`attention_mask=attention_mask`, `scaling=self.scaling`), the next parameters in the callee's order; one
keyword that says something (`attention_mask=causal_mask`) keeps them all, so the same call reads the same in
two models whose layers take their arguments in another order (the diff against Llama shows no difference
there). Every definition a call may reach must take those parameters in that order.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.calls import CallGraph, positional_params
from archread.parsers.analysis.expressions import effect_free
from archread.parsers.analysis.rewrite import Targeted, rewrite_defs
from archread.parsers.fastcst import transform
from archread.parsers.passes.base import StripPass


def _named_as(value: cst.BaseExpression, name: str) -> bool:
    """Whether the value is called what the parameter is (`x`, `self.x`, `config.x`)."""
    return (type(value) is cst.Name and value.value == name) or (type(value) is cst.Attribute and value.attr.value == name)


def _order(graph: CallGraph, call: cst.Call) -> list[str] | None:
    """The parameter names the call's explicit arguments fill by position, common to every definition it reaches."""
    defs = graph.targets.get(id(call))
    if not defs:
        return None
    orders = set()
    for fn in defs:
        implicit = 0 if id(fn) in graph.static or id(fn) not in graph.owner else 1
        orders.add(tuple(p.name.value for p in positional_params(fn)[implicit:]))
    return list(orders.pop()) if len(orders) == 1 else None


def _positional(call: cst.Call, order: list[str]) -> list[cst.Arg] | None:
    """The call's arguments with its keywords made positional, where every one is redundant and they continue
    its positional ones in the callee's order; None otherwise."""
    args = list(call.args)
    if any(a.star for a in args):
        return None
    given = sum(1 for a in args if a.keyword is None)
    keyed = {a.keyword.value: a for a in args if a.keyword is not None}
    moved = []
    for index in range(given, len(order)):
        arg = keyed.get(order[index])
        if arg is None or not (index == 0 or _named_as(arg.value, order[index])):
            break
        moved.append(arg)
    if not moved or len(moved) < len(keyed):
        return None  # a keyword that says something keeps them all: calls read alike in readings that differ in order
    if [*args[:given], *moved] != args and not effect_free(*(a.value for a in moved)):
        return None  # the keywords would be evaluated in another order, and one may tell
    plain = [*args[:given], *(m.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT) for m in moved)]
    return [*plain[:-1], plain[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]


class _Apply(Targeted):
    def __init__(self, orders: dict[int, list[str]]):
        super().__init__()
        self.orders = orders  # id(call) -> the parameter order its callees share
        self.targets = orders.keys()

    def leave_Call(self, original, updated):
        order = self.orders.get(id(original))
        args = _positional(updated, order) if order else None
        return updated if args is None else updated.with_changes(args=args)


class Keywords(StripPass):
    NAME = "keywords"
    DESCRIPTION = "Keywords that repeat their value's name, in the callee's order, go positional."
    STRIP = [(
        "class AAttention(nn.Module):\n    def forward(self, x, mask=None, scale=None):\n        return x * mask * scale\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "        self.scale = config.scale\n\n    def forward(self, x, mask):\n"
        "        return self.attn(x=self.norm(x), scale=self.scale, mask=mask)\n",
        "class AAttention(nn.Module):\n    def forward(self, x, mask=None, scale=None):\n        return x * mask * scale\n\n\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "        self.scale = config.scale\n\n    def forward(self, x, mask):\n"
        "        return self.attn(self.norm(x), mask, self.scale)\n",
    )]
    KEEP = [
        # the keyword names what the value is not: every keyword stays
        "class AAttention(nn.Module):\n    def forward(self, x, mask=None, scale=None):\n        return x * mask * scale\n\n\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n\n"
        "    def forward(self, x, causal, scale):\n        return self.attn(x, mask=causal, scale=scale)\n",
        # a callee from outside the module: its order is not known here
        "def f(x, mask):\n    return F.scaled_dot_product_attention(x, x, x, attn_mask=mask)\n",
    ]

    def leave_Module(self, original, updated):
        known = self.ctx.call_graph  # the signatures pass's graph, when it describes this very module
        graph = known[1] if known and known[0] is updated else CallGraph(updated, self.ctx.root)
        orders = {}
        for call_id, call in graph.calls.items():
            order = _order(graph, call)
            if order and _positional(call, order) is not None:
                orders[call_id] = order
        if not orders:
            return updated
        touched = {id(graph.enclosing[c]) for c in orders}
        apply = _Apply(orders)
        return rewrite_defs(updated, touched, lambda fn: transform(fn, apply) if id(fn) in touched else fn)
