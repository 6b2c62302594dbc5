"""Returns: tuple elements no caller reads leave the return, and the callers unpack what is left.

With the output plumbing gone, `return attn_output, attn_weights, past_key_value` keeps carrying values
every caller drops (`hidden_states, _, _ = self.self_attn(...)`), and a decoder layer still returns
`(hidden_states,)` for its model to take `layer_outputs[0]`. A function is changed only when every call
that can reach it (resolved as the signatures pass resolves them) assigns the result: to a tuple of
names, to one name read only as `name[i]`, or to one position of it (`h = layer(x)[0]`). Calls that reach several definitions (a ModuleList of mixed
layers) change all of them alike or none.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.calls import CallGraph
from archread.parsers.analysis.locals import drop_unread_locals
from archread.parsers.analysis.names import bound_names, name_counts
from archread.parsers.analysis.rewrite import rewrite_defs
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass


def _tuple_size(fn: cst.FunctionDef) -> int | None:
    """N when every return of fn returns an N-tuple literal without a starred element; else None."""
    nodes = list(walk(fn))
    if any(type(n) is cst.FunctionDef for n in nodes[1:]):  # exact types: libcst's ABC isinstance is slow
        return None  # a nested def's returns are not fn's
    sizes = set()
    for n in nodes:
        if type(n) is cst.Return:
            v = n.value
            ok = isinstance(v, cst.Tuple) and not any(isinstance(e, cst.StarredElement) for e in v.elements)
            sizes.add(len(v.elements) if ok else None)
    return sizes.pop() if len(sizes) == 1 and None not in sizes else None


class _Site:
    """How one call's result is taken apart (`a, b = f()`, `x = f()` read as `x[i]`, `y = f()[i]`), and which
    tuple positions that reads."""

    def __init__(self, assign: cst.Assign, block: list, index: int, fn: cst.FunctionDef, size: int):
        self.assign, self.block, self.index, self.reads, self.subscripts = assign, block, index, None, []
        target = assign.targets[0].target
        if type(assign.value) is cst.Subscript:  # `h = layer(x)[0]`: the call's one read is that position
            index = _index(assign.value)
            if index is not None and index < size:
                self.reads, self.subscripts = {index}, [assign.value]
            return
        counts = name_counts(fn.body)
        if isinstance(target, cst.Tuple) and len(target.elements) == size and all(
            isinstance(e.value, cst.Name) for e in target.elements
        ):
            self.reads = {i for i, e in enumerate(target.elements) if e.value.value != "_" and counts[e.value.value] > 1}
        elif isinstance(target, cst.Name) and bound_names(fn.body)[target.value] == 1:
            found = [
                n for n in walk(fn.body) if isinstance(n, cst.Subscript) and isinstance(n.value, cst.Name)
                and n.value.value == target.value
            ]
            indices = [_index(s) for s in found]
            if len(found) == counts[target.value] - 1 and None not in indices and all(i < size for i in indices):
                self.reads, self.subscripts = set(indices), found

    def merge(self) -> cst.Name | None:
        """`x = f(...)` then `y = x[i]`, x read nowhere else: the call can assign y itself."""
        if len(self.subscripts) != 1 or self.index + 1 >= len(self.block):
            return None
        after = self.block[self.index + 1]
        if not (isinstance(after, cst.SimpleStatementLine) and len(after.body) == 1 and isinstance(after.body[0], cst.Assign)):
            return None
        nxt = after.body[0]
        target = nxt.targets[0].target
        if len(nxt.targets) == 1 and nxt.value is self.subscripts[0] and isinstance(target, cst.Name):
            return target
        return None


def _index(sub: cst.Subscript) -> int | None:
    if len(sub.slice) == 1 and isinstance(sub.slice[0].slice, cst.Index):
        value = sub.slice[0].slice.value
        if isinstance(value, cst.Integer):
            return int(value.value)
    return None


class _Plan:
    def __init__(self, graph: CallGraph):
        self.graph = graph
        self.returns: dict[int, list[int]] = {}  # id(def) -> the tuple positions kept
        self.targets: dict[int, cst.BaseAssignTargetExpression] = {}  # id(assign) -> its new target
        self.subscripts: dict[int, cst.BaseExpression] = {}  # id(x[i]) -> its replacement
        self.drop: set[int] = set()  # ids of `y = x[i]` statements merged into the call before them
        self.touched: set[int] = set()  # ids of the defs to rewrite

    def _assignments(self, fn: cst.FunctionDef) -> dict[int, tuple[cst.Assign, list, int]]:
        """id(call) -> (its assignment, the statements of its block, its index there) for `target = call`."""
        found = {}
        for node in walk(fn):
            if type(node) is cst.IndentedBlock:
                for i, stmt in enumerate(node.body):
                    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                        a = stmt.body[0]
                        if not (isinstance(a, cst.Assign) and len(a.targets) == 1):
                            continue
                        call = a.value.value if type(a.value) is cst.Subscript else a.value
                        if type(call) is cst.Call:
                            found[id(call)] = (a, list(node.body), i)
        return found

    def _groups(self, defs: dict[int, cst.FunctionDef]) -> list[list[int]]:
        """Definitions that share a call site: they must change together."""
        parent = {d: d for d in defs}

        def find(x):
            while parent[x] != x:
                parent[x] = x = parent[parent[x]]
            return x

        for targets in self.graph.targets.values():
            ids = [id(d) for d in targets or ()]
            if len(ids) > 1 and all(i in parent for i in ids):
                for other in ids[1:]:
                    parent[find(other)] = find(ids[0])
        groups: dict[int, list[int]] = {}
        for d in defs:
            groups.setdefault(find(d), []).append(d)
        return list(groups.values())

    def build(self, defs: list[cst.FunctionDef]) -> bool:
        graph = self.graph
        candidates = {id(d): d for d in defs if id(d) not in graph.escaped and graph.sites.get(id(d))}
        assigned: dict[int, dict] = {}
        for group in self._groups(candidates):
            sizes = {_tuple_size(candidates[d]) for d in group}
            size = sizes.pop() if len(sizes) == 1 else None
            if size is None:
                continue
            sites, ok = [], True
            for d in group:
                for call, _ in graph.sites[d]:
                    fn = graph.enclosing.get(id(call))
                    if fn is None or any(id(t) not in group for t in graph.targets.get(id(call)) or ()):
                        ok = False
                        break
                    if id(fn) not in assigned:
                        assigned[id(fn)] = self._assignments(fn)
                    where = assigned[id(fn)].get(id(call))
                    site = _Site(*where, fn, size) if where else None
                    if site is None or site.reads is None:
                        ok = False
                        break
                    sites.append((fn, site))
                if not ok:
                    break
            if not ok:
                continue
            kept = sorted(set().union(*(s.reads for _, s in sites))) or [0]
            if len(kept) == size and size > 1:
                continue
            self._plan(group, kept, sites)
        return bool(self.returns)

    def _plan(self, group: list[int], kept: list[int], sites: list) -> None:
        for d in group:
            self.returns[d] = kept
            self.touched.add(d)
        single = len(kept) == 1
        for fn, site in sites:
            self.touched.add(id(fn))
            target = site.assign.targets[0].target
            if isinstance(target, cst.Tuple):
                elements = [target.elements[i] for i in kept]
                self.targets[id(site.assign)] = elements[0].value if single else target.with_changes(
                    elements=[*elements[:-1], elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
                continue
            merged = site.merge() if single else None
            if merged is not None:
                self.targets[id(site.assign)] = merged
                self.drop.add(id(site.block[site.index + 1]))
                continue
            for sub in site.subscripts:
                position = kept.index(_index(sub))
                self.subscripts[id(sub)] = sub.value if single else sub.with_changes(
                    slice=[sub.slice[0].with_changes(slice=cst.Index(cst.Integer(str(position))))])


class _Apply(cst.CSTTransformer):
    def __init__(self, plan: _Plan):
        super().__init__()
        self.plan, self.stack = plan, []

    def visit_FunctionDef(self, node):
        self.stack.append(id(node))

    def leave_FunctionDef(self, original, updated):
        self.stack.pop()
        return updated

    def leave_Return(self, original, updated):
        kept = self.plan.returns.get(self.stack[-1]) if self.stack else None
        if kept is None:
            return updated
        elements = [updated.value.elements[i] for i in kept]
        if len(elements) == 1:
            return updated.with_changes(value=elements[0].value)
        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(value=updated.value.with_changes(elements=elements))

    def leave_Assign(self, original, updated):
        target = self.plan.targets.get(id(original))
        return updated if target is None else updated.with_changes(targets=[cst.AssignTarget(target)])

    def leave_Subscript(self, original, updated):
        return self.plan.subscripts.get(id(original), updated)

    def leave_IndentedBlock(self, original, updated):
        if not any(id(s) in self.plan.drop for s in original.body):
            return updated
        body = [new for old, new in zip(original.body, updated.body) if id(old) not in self.plan.drop]
        return updated.with_changes(body=body)


class Returns(StripPass):
    NAME = "returns"
    DESCRIPTION = "Returned tuple elements no caller reads; callers unpack what is left."
    STRIP = [(
        "class AAttention(nn.Module):\n    def forward(self, x):\n        w = None\n        return self.o(x), w, None\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x):\n        h, _, cache = self.attn(x)\n        return (h,)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer(config) for _ in range(2)])\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            out = layer(x)\n            x = out[0]\n"
        "        return x\n",
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return self.o(x)\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x):\n        h = self.attn(x)\n        return h\n"  # the inline pass joins these two
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer(config) for _ in range(2)])\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n",
    )]
    STRIP += [(  # the layer's one-tuple taken apart where it is called (4.3x Llama after inline joins)
        "class ALayer(nn.Module):\n    def forward(self, x):\n        return (x * 2,)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer(config) for _ in range(2)])\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)[0]\n        return x\n",
        "class ALayer(nn.Module):\n    def forward(self, x):\n        return x * 2\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer(config) for _ in range(2)])\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n",
    )]
    KEEP = [  # the second element is read; and a result returned on is not taken apart here
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return x, x\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x):\n        h, w = self.attn(x)\n        return h * w\n",
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return x, None\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x):\n        return self.attn(x)\n",
        # one call takes a position, another the whole tuple: nothing changes
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return x, x\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x):\n        h = self.attn(x)[0]\n        y = self.attn(h)\n        return y\n",
    ]

    def leave_Module(self, original, updated):
        known = self.ctx.call_graph  # the signatures pass's graph of this very module
        for _ in range(3):  # a layer that stops returning its attention's weights may then return one value
            graph = known[1] if known and known[0] is updated else CallGraph(updated, self.ctx.root)
            plan = _Plan(graph)
            if not plan.build([*graph.functions.values(), *(f for c in graph.classes.values() for f in graph.methods(c))]):
                break
            apply = _Apply(plan)

            def redo(fn: cst.FunctionDef) -> cst.FunctionDef:
                if id(fn) not in plan.touched:
                    return fn
                return drop_unread_locals(transform(fn, apply), self.ctx, "dead_code")  # `attn_weights = None` has no reader now

            updated = rewrite_defs(updated, plan.touched, redo)
        return updated
