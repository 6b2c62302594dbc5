"""Rewrites the passes share: transformers that go only into the statements they change, name replacement,
`x + 0` folding, and a module rebuilt around the functions a pass changes."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.names import ids_under, names_in
from archread.parsers.analysis.nodes import untrailed
from archread.parsers.context import PassContext
from archread.parsers.fastcst import hook

_CONTAINERS = (cst.BaseCompoundStatement, cst.BaseSuite, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally,
               cst.MatchCase)
_DESCEND: dict[type, bool] = {}  # node type -> whether a StatementTransformer looks inside it


class StatementTransformer(cst.CSTTransformer):
    """A transformer that changes statements only: it walks down through modules, classes, functions and
    blocks, and leaves each statement without looking inside it (the expressions, most of the tree)."""

    def on_visit(self, node) -> bool:
        kind = type(node)
        descend = _DESCEND.get(kind)
        if descend is None:
            descend = _DESCEND[kind] = kind is cst.Module or issubclass(kind, _CONTAINERS)
        if not descend:
            return False
        visit = hook(self, "visit", kind)
        return visit is None or visit(self, node) is not False


class Selective(cst.CSTTransformer):
    """A rewrite that does not go into a statement it would leave as it is (`touches`): most statements, which
    then stay the very nodes they were, and what was remembered of them holds."""

    def touches(self, stmt) -> bool:
        return True

    def visit_SimpleStatementLine(self, node) -> bool:
        return self.touches(node)

    visit_If = visit_For = visit_While = visit_With = visit_Try = visit_SimpleStatementLine


class Targeted(Selective):
    """A rewrite of given nodes, known by id (`targets`): only statements holding one are visited."""

    targets: frozenset[int] | set[int] = frozenset()

    def touches(self, stmt) -> bool:
        return not self.targets.isdisjoint(ids_under(stmt))


class LiteralsFrom:
    """The context as a folding pass sees it after a rewrite: these literals (`None`, `False`) count as the
    given pass's — node identity, which marks them, does not survive a second traversal, and `None is None`
    or `False and x` folds whoever wrote it."""

    def __init__(self, ctx: PassContext, name: str, literals: tuple[str, ...]):
        self._ctx, self._name, self._literals = ctx, name, literals

    def __getattr__(self, attr):
        return getattr(self._ctx, attr)

    def origin_of(self, *nodes):
        if any(type(n) is cst.Name and n.value in self._literals for n in nodes):
            return self._name
        return self._ctx.origin_of(*nodes)


class FoldZero(cst.CSTTransformer):
    """`x + 0` and `0 + x` (a length fixed to 0 where the cache was) are x."""

    def leave_BinaryOperation(self, original, updated):
        if type(updated.operator) is cst.Add:
            if type(updated.right) is cst.Integer and updated.right.value == "0":
                return updated.left
            if type(updated.left) is cst.Integer and updated.left.value == "0":
                return updated.right
        return updated


class ReplaceReads(Selective):
    """Every bare-name read of the given names becomes a fresh expression (attribute and keyword names stay)."""

    def __init__(self, make: dict):
        super().__init__()
        self.make = make  # name -> () -> expression

    def touches(self, stmt) -> bool:
        return not self.make.keys().isdisjoint(names_in(stmt))

    def leave_Attribute(self, original, updated):
        return updated if updated.attr is original.attr else updated.with_changes(attr=original.attr)

    def leave_Arg(self, original, updated):
        return updated if updated.keyword is original.keyword else updated.with_changes(keyword=original.keyword)

    def leave_Name(self, original, updated):
        make = self.make.get(original.value)
        return make() if make is not None else updated

    def leave_Del(self, original, updated):
        """`del x` where x became a value (`None`): nothing is left to delete."""
        target = updated.target
        if type(target) in (cst.Tuple, cst.List):
            kept = [e for e in target.elements if _deletable(e.value)]
            if len(kept) > 1:
                return updated.with_changes(target=target.with_changes(elements=untrailed(kept)))
            return updated.with_changes(target=kept[0].value) if kept else cst.RemovalSentinel.REMOVE
        return updated if _deletable(target) else cst.RemovalSentinel.REMOVE


def _deletable(node: cst.CSTNode) -> bool:
    return type(node) in (cst.Attribute, cst.Subscript) or (
        type(node) is cst.Name and node.value not in ("None", "True", "False"))


def rewrite_defs(module: cst.Module, touched: set[int], redo) -> cst.Module:
    """The module with redo applied to its functions and methods; classes holding none of the touched
    definitions (ids) are left as they are."""
    body = []
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef):
            stmt = redo(stmt)
        elif isinstance(stmt, cst.ClassDef) and any(id(s) in touched for s in stmt.body.body):
            stmt = stmt.with_changes(body=stmt.body.with_changes(
                body=[redo(s) if isinstance(s, cst.FunctionDef) else s for s in stmt.body.body]))
        body.append(stmt)
    return module.with_changes(body=body)


class Splice(cst.CSTTransformer):
    """The statements `self.m()` given by identity become m's body."""

    def __init__(self, bodies: dict[int, list]):
        super().__init__()
        self.bodies = bodies

    def leave_SimpleStatementLine(self, original, updated):
        body = self.bodies.get(id(original))
        return cst.FlattenSentinel(body) if body is not None else updated


class AttributeAsName(cst.CSTTransformer):
    """`einops.rearrange` as `rearrange`: the attributes read through one module name, by their own names."""

    def __init__(self, bound: str):
        super().__init__()
        self.bound = bound

    def leave_Attribute(self, original, updated):
        if type(updated.value) is cst.Name and updated.value.value == self.bound:
            return cst.Name(updated.attr.value)
        return updated
