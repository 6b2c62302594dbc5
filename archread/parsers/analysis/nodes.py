"""The shapes of nodes the passes ask about: a dotted name, `self.x`, a statement's one small statement, a
class's method, a literal written for a value."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.fastcst import walk


def literal(value: object) -> cst.BaseExpression:
    if isinstance(value, bool) or value is None:
        return cst.Name(repr(value))
    if isinstance(value, int):  # libcst's Integer holds digits only: -1 is a minus applied to 1
        return cst.Integer(str(value)) if value >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-value)))
    if isinstance(value, str):
        return cst.SimpleString(repr(value))
    raise TypeError(value)


def dotted(node: cst.CSTNode) -> str:
    """'nn.functional.dropout' for an Attribute chain; '' for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def is_self_attr(node: cst.CSTNode) -> bool:
    """`self.x`. Exact types: libcst's node classes are ABCs, whose isinstance is slow on hot paths."""
    return type(node) is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self"


def is_config(node: cst.CSTNode) -> bool:
    """`config` or `x.config`: the configuration object. Exact types: every attribute of a module is tested."""
    kind = type(node)
    return (kind is cst.Name and node.value == "config") or (kind is cst.Attribute and node.attr.value == "config")


def call_of(node: cst.CSTNode, name: str) -> bool:
    """`name(a, b)` of a bare name with positional arguments only (`zip(x, y)`, `enumerate(layers)`)."""
    return type(node) is cst.Call and type(node.func) is cst.Name and node.func.value == name and bool(node.args) \
        and not any(a.keyword or a.star for a in node.args)


def only_small(stmt: cst.CSTNode):
    """The one small statement of a simple statement line (`x = f(y)`), else None. Exact types: a hot path."""
    return stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None


def sole_target(assign: cst.Assign) -> cst.BaseAssignTargetExpression | None:
    """The target of `target = value`; None for `a = b = value`."""
    return assign.targets[0].target if len(assign.targets) == 1 else None


def find(node: cst.CSTNode, kind: type, matcher=None) -> list:
    hits: dict[type, bool] = {}
    found = []
    for n in walk(node):
        t = type(n)
        hit = hits.get(t)
        if hit is None:
            hit = hits[t] = issubclass(t, kind)
        if hit and (matcher is None or m.matches(n, matcher)):
            found.append(n)
    return found


def method(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    return next((s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == name), None)


def untrailed(elements: list) -> list:
    """The elements (arguments, names) with no comma after the last."""
    return [*elements[:-1], elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]


BLOCKS = (cst.If, cst.Else, cst.For, cst.While, cst.With)


def statements_in(body):
    """Every statement of a body, nested blocks included."""
    for stmt in body:
        yield stmt
        if type(stmt) in BLOCKS:
            if type(stmt.body) is cst.IndentedBlock:
                yield from statements_in(stmt.body.body)
            orelse = getattr(stmt, "orelse", None)
            if orelse is not None:
                yield from statements_in([orelse])


# what a body moved elsewhere must not hold: it would return, yield or bind names from another scope
SCOPED = (cst.Return, cst.Yield, cst.Await, cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Global, cst.Nonlocal)
