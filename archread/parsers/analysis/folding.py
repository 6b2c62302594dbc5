"""Folding: the conditions a knock-out fixed (`if False:`, `None is None`, `not True`) evaluated, the branches
that can no longer run dropped, and what that leaves empty tidied. The simplify pass runs it over the whole
module; dead code and signatures run it again on a function whose literals they wrote."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.expressions import ATOMS, PRIMARY
from archread.parsers.analysis.nodes import literal
from archread.parsers.context import lines_of
from archread.parsers.evaluate import UNKNOWN, compare, literal_value
from archread.parsers.fastcst import walk


def _truth(node: cst.CSTNode) -> bool | None:
    value = literal_value(node)
    return None if value is UNKNOWN else bool(value)


class Fold(cst.CSTTransformer):
    """Folds what a knock-out fixed; what it drops is credited to the knock-out (or to `NAME`)."""

    NAME = "simplify"

    def __init__(self, ctx):
        cst.CSTTransformer.__init__(self)
        self.ctx = ctx
        self._elifs: dict[int, cst.If] = {}  # id -> node: the node is kept, so its id is never another's
    def _fold(self, result: object, *sources: cst.CSTNode) -> cst.BaseExpression:
        node = literal(result) if not isinstance(result, cst.BaseExpression) else result
        origin = self.ctx.origin_of(*sources)
        return self.ctx.mark(node, origin) if origin else node

    def leave_Comparison(self, original, updated):
        operands = [updated.left, *(c.comparator for c in updated.comparisons)]
        if not self.ctx.origin_of(*operands):
            return updated
        result = compare(updated, literal_value)
        return updated if result is UNKNOWN else self._fold(result, *operands)

    def leave_Call(self, original, updated):
        """`isinstance(None, SomeCache)` where a knock-out made the None: False (None is an instance only
        of NoneType and object, which no model tests for); `x.to(None)`: x."""
        args = updated.args
        if (type(updated.func) is cst.Name and updated.func.value == "isinstance" and len(args) == 2
                and not any(a.star or a.keyword for a in args) and literal_value(args[0].value) is None
                and self.ctx.origin_of(args[0].value)
                and all(n.value not in ("object", "type", "NoneType") for n in walk(args[1].value) if isinstance(n, cst.Name))):
            return self._fold(False, args[0].value)
        if (type(updated.func) is cst.Attribute and updated.func.attr.value == "to" and len(args) == 1 and not args[0].keyword
                and not args[0].star and literal_value(args[0].value) is None and self.ctx.origin_of(args[0].value)):
            return updated.func.value  # `.to(device)` with the device a knock-out fixed to None: no move
        return updated

    def leave_UnaryOperation(self, original, updated):
        if isinstance(updated.operator, cst.Not) and self.ctx.origin_of(updated.expression):
            truth = _truth(updated.expression)
            if truth is not None:
                return self._fold(not truth, updated.expression)
        return updated

    def leave_BooleanOperation(self, original, updated):
        left, right = _truth(updated.left), _truth(updated.right)
        is_and = isinstance(updated.operator, cst.And)
        if left is not None and self.ctx.origin_of(updated.left):
            return self._standing_in(updated, updated.right if left == is_and else updated.left)
        if right is not None and self.ctx.origin_of(updated.right):
            return self._standing_in(updated, updated.left if right == is_and else updated.right)
        return updated

    def _standing_in(self, whole: cst.BaseExpression, part: cst.BaseExpression) -> cst.BaseExpression:
        """part in place of whole, in whole's brackets when it is itself an operation: the brackets may be
        what holds its lines together (`x = (a == 1\n and b)` folded to `a == 1\n and b` would not parse)."""
        if not whole.lpar or part.lpar or type(part) in ATOMS:
            return part
        return self._fold(part.with_changes(lpar=whole.lpar, rpar=whole.rpar), part)

    def leave_IfExp(self, original, updated):
        truth = _truth(updated.test) if self.ctx.origin_of(updated.test) else None
        if truth is None:  # a branch that reads through a knocked-out None only raises: the other one is the value
            truth = False if self._through_none(updated.body) else True if self._through_none(updated.orelse) else None
        if truth is None:
            return updated
        return self._standing_in(updated, updated.body if truth else updated.orelse)

    def _through_none(self, expr: cst.CSTNode) -> bool:
        """`None.device`, `None[0].shape`: an attribute, item or call of a None a knock-out wrote."""
        head = expr
        while type(head) in (cst.Attribute, cst.Subscript, cst.Call):
            head = head.func if type(head) is cst.Call else head.value
        return head is not expr and literal_value(head) is None and bool(self.ctx.origin_of(head))

    def _credit(self, test: cst.CSTNode, dropped: cst.CSTNode | None) -> None:
        if dropped is not None:
            self.ctx.removed[self.ctx.origin_of(test) or self.NAME] += lines_of(dropped)

    def visit_If(self, node):
        if isinstance(node.orelse, cst.If):
            self._elifs[id(node.orelse)] = node.orelse

    def leave_If(self, original, updated):
        fixed = self.ctx.origin_of(updated.test) or isinstance(updated.test, cst.Name)
        truth = _truth(updated.test) if fixed else None
        if self._elifs.get(id(original)) is original and truth is not None:  # an `elif` can only become an `else` or vanish
            self.ctx.removed[self.ctx.origin_of(updated.test) or self.NAME] += 1
            if truth:
                return cst.Else(body=updated.body)
            return updated.orelse if updated.orelse is not None else cst.RemovalSentinel.REMOVE
        if truth is True:
            self._credit(updated.test, updated.orelse)
            self.ctx.removed[self.ctx.origin_of(updated.test) or self.NAME] += 1  # the `if` line itself
            return cst.FlattenSentinel(updated.body.body)
        if truth is False:
            self._credit(updated.test, updated.body)
            self.ctx.removed[self.ctx.origin_of(updated.test) or self.NAME] += 1
            if isinstance(updated.orelse, cst.If):
                return updated.orelse
            if isinstance(updated.orelse, cst.Else):
                return cst.FlattenSentinel(updated.orelse.body.body)
            return cst.RemovalSentinel.REMOVE
        if not updated.body.body:  # every statement of the body was stripped
            if updated.orelse is None:
                return cst.RemovalSentinel.REMOVE
            if isinstance(updated.orelse, cst.Else):
                negated = cst.UnaryOperation(cst.Not(), _parenthesize(updated.test))
                return updated.with_changes(test=negated, body=updated.orelse.body, orelse=None)
        if isinstance(updated.orelse, cst.Else) and not updated.orelse.body.body:
            return updated.with_changes(orelse=None)
        return updated

    def leave_For(self, original, updated):
        return cst.RemovalSentinel.REMOVE if not updated.body.body else updated

    def leave_IndentedBlock(self, original, updated):
        # a folded `if` whose body returns leaves what followed it unreachable
        for i, stmt in enumerate(updated.body[:-1]):
            if type(stmt) is cst.SimpleStatementLine and type(stmt.body[-1]) in (cst.Return, cst.Raise):
                for dead in updated.body[i + 1:]:
                    self.ctx.remove(self.NAME, dead)
                return updated.with_changes(body=updated.body[:i + 1])
        return updated

    def leave_With(self, original, updated):
        # `with torch.autocast(..., enabled=False):` and friends keep their body; empty ones go
        return cst.RemovalSentinel.REMOVE if not updated.body.body else updated

    def leave_FunctionDef(self, original, updated):
        if not updated.body.body:
            return updated.with_changes(body=updated.body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])]))
        return updated

    def leave_ClassDef(self, original, updated):
        if not updated.body.body:
            return updated.with_changes(body=updated.body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])]))
        return updated


def _parenthesize(test: cst.BaseExpression) -> cst.BaseExpression:
    if type(test) in PRIMARY:
        return test
    return test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
