"""Dead code: what the causal LM no longer reaches once the other passes have run.

Top-level classes and functions unreachable from the *ForCausalLM / *LMHeadModel classes,
methods no one calls, `self.x = plain value` attributes no one reads, and local
assignments no one reads (the last two only when the value builds no module).
"""

from __future__ import annotations

from collections import Counter

import libcst as cst
import libcst.matchers as m

from archread.parsers.passes.base import StripPass, find, name_counts, names_in

_BUILTIN_CALLS = {"getattr", "hasattr", "int", "float", "bool", "len", "max", "min", "isinstance", "str", "range"}
_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def roots(module: cst.Module) -> list[str]:
    classes = [s for s in module.body if isinstance(s, cst.ClassDef)]
    lm = [c.name.value for c in classes if c.name.value.endswith(_LM_SUFFIXES)]
    return lm or [c.name.value for c in classes if any(getattr(f, "name", None) and f.name.value == "forward" for f in c.body.body)]


def _defines(stmt: cst.CSTNode) -> set[str]:
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        return {stmt.name.value}
    if m.matches(stmt, m.SimpleStatementLine([m.Assign() | m.AnnAssign()])):
        small = stmt.body[0]
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
        return {n.value for t in targets for n in find(t, cst.Name)}
    return set()


def _attr_uses(node: cst.CSTNode) -> Counter:
    """Attribute names read anywhere (through any object but a config, whose fields share the names)."""
    config = m.Name("config") | m.Attribute(attr=m.Name("config"))
    return Counter(a.attr.value for a in find(node, cst.Attribute) if not m.matches(a.value, config))


def _plain(value: cst.CSTNode) -> bool:
    """No call that could build a module or parameter."""
    for call in find(value, cst.Call):
        if not (isinstance(call.func, cst.Name) and call.func.value in _BUILTIN_CALLS):
            return False
    return True


class DeadCode(StripPass):
    NAME = "dead_code"
    DESCRIPTION = "Unreachable classes/functions, uncalled methods, unread attributes and locals."
    STRIP = [(
        "def unused():\n    return 1\nclass AForCausalLM(nn.Module):\n    def helper(self):\n        return 2\n"
        "    def forward(self, x):\n        y = x * 2\n        return x\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    KEEP = ["class AForCausalLM(nn.Module):\n    def forward(self, x):\n        y = x * 2\n        return y\n"]

    def leave_Module(self, original, updated):
        self._names: dict[int, tuple[cst.CSTNode, set[str]]] = {}
        module = self._reachable(updated)
        module = module.visit(_Members(self))  # uncalled methods can leave helpers unreachable
        return self._reachable(module)

    def _names_of(self, stmt: cst.CSTNode) -> set[str]:
        hit = self._names.get(id(stmt))
        if hit is None or hit[0] is not stmt:
            hit = self._names[id(stmt)] = (stmt, names_in(stmt))
        return hit[1]

    def _reachable(self, module: cst.Module) -> cst.Module:
        defined = {name: i for i, stmt in enumerate(module.body) for name in _defines(stmt)}
        keep, todo = set(), list(roots(module))
        while todo:
            name = todo.pop()
            index = defined.get(name)
            if index is None or index in keep:
                continue
            keep.add(index)
            todo.extend(self._names_of(module.body[index]))
        body = []
        for i, stmt in enumerate(module.body):
            if i in keep or (not _defines(stmt) and not m.matches(stmt, m.SimpleStatementLine([m.Expr()]))):
                body.append(stmt)
            else:
                self.ctx.remove(self.NAME, stmt)
        return module.with_changes(body=body)


class _Members(cst.CSTTransformer):
    """One sweep over classes and functions: uncalled methods, unread attributes, unread locals."""

    def __init__(self, owner: DeadCode):
        super().__init__()
        self.owner = owner
        self.uses: Counter = Counter()
        self.stores: Counter = Counter()

    def visit_Module(self, node: cst.Module) -> None:
        self.uses = _attr_uses(node)
        self.stores = Counter(
            t.target.attr.value for t in find(node, cst.AssignTarget, m.AssignTarget(m.Attribute(m.Name("self"), m.Name())))
        )

    def leave_ClassDef(self, original, updated):
        body = []
        for stmt in updated.body.body:
            if isinstance(stmt, cst.FunctionDef) and not _dunder(stmt.name.value) and stmt.name.value != "forward":
                if self.uses[stmt.name.value] == 0:
                    self.owner.ctx.remove(self.owner.NAME, stmt)
                    continue
            body.append(stmt)
        return updated.with_changes(body=updated.body.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])]))

    def leave_Assign(self, original, updated):
        if m.matches(updated, m.Assign(targets=[m.AssignTarget(m.Attribute(m.Name("self"), m.Name()))])):
            attr = updated.targets[0].target.attr.value
            if self.uses[attr] == self.stores[attr] and _plain(updated.value):
                return self.owner.removed(original)
        return updated

    def leave_FunctionDef(self, original, updated):
        return _drop_unread_locals(updated, self.owner)


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _drop_unread_locals(fn: cst.FunctionDef, owner: DeadCode) -> cst.FunctionDef:
    while True:
        stored = Counter()
        for node in find(fn.body, (cst.Assign, cst.AugAssign), m.Assign(targets=[m.AssignTarget(m.Name())]) | m.AugAssign(target=m.Name())):
            stored[(node.targets[0].target if isinstance(node, cst.Assign) else node.target).value] += 1
        seen = name_counts(fn.body)
        dead = {name for name, count in stored.items() if seen[name] == count}
        if not dead:
            return fn
        fn = fn.visit(_DropAssignments(dead, owner))


class _DropAssignments(cst.CSTTransformer):
    def __init__(self, dead: set[str], owner: DeadCode):
        super().__init__()
        self.dead, self.owner = dead, owner

    def leave_Assign(self, original, updated):
        if m.matches(updated, m.Assign(targets=[m.AssignTarget(m.Name())])) and updated.targets[0].target.value in self.dead:
            return self.owner.removed(original)
        return updated

    def leave_AugAssign(self, original, updated):
        if m.matches(updated.target, m.Name()) and updated.target.value in self.dead:
            return self.owner.removed(original)
        return updated
