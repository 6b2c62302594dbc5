"""What every strip pass shares: a name, a description, examples, and knock-out tables.

A knock-out declares that a name or attribute has a fixed value in the reduced model
(`use_cache` is False, `self.training` is False, `_attn_implementation` is "eager").
The pass writes that value as a literal wherever a condition reads it, drops the
keyword arguments that pass it, and the `simplify` pass folds the branches away.
What passes ask of the tree (names, bindings, calls) lives in `archread.parsers.analysis`.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import libcst as cst

from archread.parsers.analysis.calls import filled_by_position
from archread.parsers.analysis.names import bound_names, names_in, read_on_entry
from archread.parsers.analysis.nodes import dotted, literal
from archread.parsers.analysis.rewrite import FoldZero, ReplaceReads
from archread.parsers.context import PassContext
from archread.parsers.evaluate import UNKNOWN, evaluate
from archread.parsers.fastcst import transform, walk


class StripPass(cst.CSTTransformer):
    NAME: ClassVar[str] = "pass"
    DESCRIPTION: ClassVar[str] = ""
    # (before, after) snippets: after is what the whole pipeline leaves of before.
    STRIP: ClassVar[list[tuple[str, str]]] = []
    # snippets the pass must leave as they are
    KEEP: ClassVar[list[str]] = []

    def __init__(self, ctx: PassContext):
        super().__init__()
        self.ctx = ctx

    def removed(self, node: cst.CSTNode) -> cst.RemovalSentinel:
        self.ctx.remove(self.NAME, node)
        return cst.RemovalSentinel.REMOVE


class Knockout(StripPass):
    """A pass that fixes names, attributes or calls to constants wherever a condition reads them."""

    NAMES: ClassVar[dict[str, object]] = {}  # variable -> fixed value
    ATTRS: ClassVar[dict[str, object]] = {}  # attribute name (any owner) -> fixed value
    CALLS: ClassVar[tuple[str, ...]] = ()  # callee name prefixes whose call is False

    def __init__(self, ctx: PassContext):
        super().__init__(ctx)
        self._tests: set[int] = set()
        self._active: list[set[str]] = []
        self._dead: set[int] = set()  # ids of branches whose condition this pass fixes to False
        self._depth_dead = 0
        self._bound: set[int] = set()  # names being assigned (for targets, tuple targets): never substituted

    def _const(self, value: object) -> cst.BaseExpression:
        return self.ctx.mark(literal(value), self.NAME)

    def fixed_call(self, callee: str) -> bool:
        """Whether a call of this name is fixed to False (an environment probe)."""
        return bool(self.CALLS) and callee.startswith(self.CALLS)

    # -- knock-outs: mark expressions read as conditions ------------------------------

    def _test(self, *nodes: cst.CSTNode | None) -> None:
        self._tests.update(id(n) for n in nodes if n is not None)

    def visit_If(self, node: cst.If) -> None:
        self._test(node.test)
        if self._active:  # a branch this pass will fold away does not make a knocked name a real local
            truth = evaluate(node.test, self._leaf)
            if truth is not UNKNOWN:
                self._dead.add(id(node.orelse if truth else node.body))

    def _leaf(self, node: cst.CSTNode) -> object:
        if isinstance(node, cst.Name) and self._knocked(node.value):
            return self.NAMES[node.value]
        if isinstance(node, cst.Attribute) and node.attr.value in self.ATTRS:
            return self.ATTRS[node.attr.value]
        if isinstance(node, cst.Call) and self.fixed_call(dotted(node.func).rsplit(".", 1)[-1]):
            return False
        return UNKNOWN

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._depth_dead += id(node) in self._dead

    def leave_IndentedBlock(self, original, updated):
        self._depth_dead -= id(original) in self._dead
        return updated

    def visit_Else(self, node: cst.Else) -> None:
        self._depth_dead += id(node) in self._dead

    def leave_Else(self, original, updated):
        self._depth_dead -= id(original) in self._dead
        return updated

    def visit_While(self, node: cst.While) -> None:
        self._test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._test(node.test)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._test(node.left, node.right)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._test(node.expression)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self._test(node.left, *(c.comparator for c in node.comparisons))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.NAMES:
            self._active.append(set(self.NAMES))

    def visit_Module(self, node: cst.Module) -> None:
        """Knocked names some call passes by position (`self._attn(q, k, v, mask, head_mask)`): their parameters
        stay, or the positions after them would shift."""
        self._positional = {(f, p) for f, p in filled_by_position(node) if p in self.NAMES} if self.NAMES else set()

    def _knocked(self, name: str) -> bool:
        return bool(self._active) and name in self._active[-1]

    def _targets(self, target: cst.CSTNode) -> None:
        self._bound.update(id(n) for n in walk(target) if isinstance(n, cst.Name))

    def visit_For(self, node: cst.For) -> None:
        self._targets(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._targets(node.target)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets(node.target)

    def visit_Arg(self, node: cst.Arg) -> None:
        if isinstance(node.value, cst.Name):
            self._tests.add(id(node.value))  # passed on (`output_final_state=use_cache`): the fixed value is what is passed

    def visit_Element(self, node: cst.Element) -> None:
        if isinstance(node.value, cst.Name):
            self._tests.add(id(node.value))  # `return out, weights, past_key_value`

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if id(original) in self._tests and id(original) not in self._bound and self._knocked(updated.value):
            return self._const(self.NAMES[updated.value])
        return updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if id(original) in self._tests and updated.attr.value in self.ATTRS:
            return self._const(self.ATTRS[updated.attr.value])
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if id(original) in self._tests and self.fixed_call(dotted(updated.func).rsplit(".", 1)[-1]):
            return self._const(False)
        if len(updated.args) < len(original.args) and updated.args:  # `f(x, )` once its last argument is gone
            updated = updated.with_changes(args=[*updated.args[:-1], updated.args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        return updated

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg | cst.RemovalSentinel:
        if updated.keyword is not None and updated.keyword.value in self.NAMES:
            return cst.RemovalSentinel.REMOVE
        return updated

    def leave_DictElement(self, original, updated):
        if self.NAMES and (
            (isinstance(updated.value, cst.Name) and updated.value.value in self.NAMES)
            or (isinstance(updated.key, cst.SimpleString) and updated.key.evaluated_value in self.NAMES)
        ):
            return cst.RemovalSentinel.REMOVE
        return updated

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign):
        if not self.NAMES or len(updated.targets) != 1 or type(updated.targets[0].target) is not cst.Name:
            return updated
        name = updated.targets[0].target.value
        if not self._knocked(name):
            return updated
        value = updated.value
        if self.ctx.origin_of(value) or name in names_in(value) or (isinstance(value, cst.Name) and value.value in ("None", "False", "True")):
            return self.removed(original)  # `use_cache = use_cache if ... else ...`: still the fixed value
        if not self._depth_dead:
            self._active[-1].discard(name)  # from here on it is a real local
        return updated

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if not self.NAMES:
            return updated
        self._active.pop()
        params = updated.params
        keep = getattr(self, "_positional", set())
        drop = [p for p in params.params if p.name.value in self.NAMES and (updated.name.value, p.name.value) not in keep]
        drop += [p for p in params.kwonly_params if p.name.value in self.NAMES]
        if not drop:
            return updated
        body = updated.body.body
        gone = {p.name.value for p in drop if not read_on_entry(p.name.value, ((s, names_in(s)) for s in body))}
        # read and never rebound (`_make_causal_mask(shape, device, past_key_values_length)`): the calls lose
        # their keyword for it, so the body reads the fixed value itself
        fixed = {p.name.value for p in drop} - gone - set(bound_names(updated.body))
        if fixed:
            body = transform(updated.body, ReplaceReads({n: partial(self._const, self.NAMES[n]) for n in fixed}))
            updated = updated.with_changes(body=transform(body, FoldZero()))
            gone |= fixed
        if not gone:
            return updated
        kwonly = [p for p in params.kwonly_params if p.name.value not in gone]
        positional = [p for p in params.params if p.name.value not in gone]
        if positional and params.star_arg is cst.MaybeSentinel.DEFAULT and not kwonly and params.star_kwarg is None:
            positional[-1] = positional[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        star = params.star_arg
        if not kwonly and isinstance(star, cst.ParamStar):
            star = cst.MaybeSentinel.DEFAULT  # a bare `*` needs a keyword-only parameter after it
        return updated.with_changes(
            params=params.with_changes(
                params=positional, kwonly_params=kwonly, star_arg=star
            )
        )
