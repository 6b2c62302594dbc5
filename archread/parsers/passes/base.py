"""What every strip pass shares: a name, a description, examples, and knock-out tables.

A knock-out declares that a name or attribute has a fixed value in the reduced model
(`use_cache` is False, `self.training` is False, `_attn_implementation` is "eager").
The pass writes that value as a literal wherever a condition reads it, drops the
keyword arguments that pass it, and the `simplify` pass folds the branches away.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from archread.parsers.context import PassContext
from archread.parsers.evaluate import UNKNOWN, evaluate
from archread.parsers.fastcst import hook, is_node, node_fields, remembered, transform, walk


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


def top_imports(module: cst.Module) -> list[cst.ImportFrom]:
    """`from X import ...` at module level or one `if`/`try` down (TYPE_CHECKING, is_*_available blocks)."""
    found = []
    for stmt in module.body:
        blocks = [stmt]
        if isinstance(stmt, (cst.If, cst.Try)):
            blocks = [s for s in stmt.body.body]
            orelse = getattr(stmt, "orelse", None)
            if isinstance(orelse, cst.Else):
                blocks += list(orelse.body.body)
        for s in blocks:
            if isinstance(s, cst.SimpleStatementLine):
                found += [small for small in s.body if isinstance(small, cst.ImportFrom)]
    return found


def framework_names(module: cst.Module) -> set[str]:
    """Names imported from transformers itself, except from other models' modeling files."""
    names = set()
    for imp in top_imports(module):
        source = dotted(imp.module) if imp.module else ""
        framework = bool(imp.relative) or source.startswith("transformers")
        if framework and not _sibling(imp) and not isinstance(imp.names, cst.ImportStar):
            names.update(a.evaluated_alias or a.evaluated_name for a in imp.names)
    return names


def _sibling(imp: cst.ImportFrom) -> bool:
    """`from ..llama.modeling_llama import X`: another model's math, not the framework."""
    source = dotted(imp.module) if imp.module else ""
    return source.rsplit(".", 1)[-1].startswith("modeling_") and (len(imp.relative) == 2 or ".models." in source)


def method(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    return next((s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == name), None)


def name_counts(node: cst.CSTNode) -> Counter:
    """How often each bare Name is read or written under node (attribute and keyword names excluded); shared
    inside a reduction (`remembered`): read it, never change it."""
    return remembered("name_counts", node, lambda: _name_counts(node))


def _name_counts(node: cst.CSTNode) -> Counter:
    """Its own walk, not `walk`: it need not stop at every node."""
    found: dict[str, int] = {}
    stack = [node]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, found.get
    name, attribute, arg, node_type = cst.Name, cst.Attribute, cst.Arg, is_node
    while stack:
        current = pop()
        kind = type(current)
        if kind is name:
            found[current.value] = get(current.value, 0) + 1
        elif kind is attribute or kind is arg:  # `x.attr`, `f(keyword=x)`: only x is a name here
            push(current.value)
        else:
            for field in node_fields(kind):
                value = getattr(current, field)
                vkind = type(value)
                if vkind is list or vkind is tuple:
                    extend(value)
                elif node_type(vkind):
                    push(value)
    return Counter(found)


def names_in(node: cst.CSTNode) -> frozenset[str]:
    return remembered("names_in", node, lambda: frozenset(name_counts(node)))


class Family:
    """Classes of the module joined by inheritance: `self.x` in a base may be built by a subclass."""

    def __init__(self, classes: dict[str, cst.ClassDef]):
        self.parent = {name: name for name in classes}
        for name, cls in classes.items():
            for base in cls.bases:
                other = dotted(base.value)
                if other in classes:
                    self.parent[self.find(name)] = self.find(other)

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            name = self.parent[name]
        return name


_BINDERS = {cst.AssignTarget: "target", cst.AugAssign: "target", cst.AnnAssign: "target", cst.For: "target",
             cst.CompFor: "target", cst.WithItem: "asname", cst.NamedExpr: "target"}


def bound_names(body: cst.CSTNode) -> Counter:
    """How often each name is bound: assignments, augmented assignments, loop, `with … as` and walrus targets;
    shared inside a reduction (`remembered`): read it, never change it."""
    return remembered("bound_names", body, lambda: _bound_names(body))


def _bound_names(body: cst.CSTNode) -> Counter:
    stores: Counter = Counter()
    for node in walk(body):
        field = _BINDERS.get(type(node))
        target = getattr(node, field) if field else None
        if target is not None:
            stores.update(_bound_by(target))
    return stores


def _bound_by(target: cst.CSTNode):
    """The names a target binds: `x`, `x, *y`; not `self.x` nor `d[i]`, which store into objects."""
    kind = type(target)
    if kind is cst.Name:
        yield target.value
    elif kind in (cst.Tuple, cst.List):
        for element in target.elements:
            yield from _bound_by(element.value)
    elif kind is cst.AsName:
        yield from _bound_by(target.name)


_TOP_BLOCKS = (cst.If, cst.Try)


def bound_at_top(stmt: cst.CSTNode) -> dict[str, cst.CSTNode | None]:
    """Names a module-level statement binds -> the import alias that binds it (None for a definition);
    an `if`/`try` block (`if is_x_available(): from x import f`) binds what its statements bind."""
    kind = type(stmt)
    if kind in (cst.ClassDef, cst.FunctionDef):
        return {stmt.name.value: None}
    if kind in _TOP_BLOCKS:
        found = {}
        blocks = [stmt.body, getattr(stmt, "orelse", None), *getattr(stmt, "handlers", ())]
        for block in blocks:
            inner = getattr(block, "body", None)
            for s in getattr(inner, "body", ()) if inner is not None else ():
                found.update(dict.fromkeys(bound_at_top(s)))  # the whole block defines them
        return found
    found = {}
    for small in getattr(stmt, "body", ()) if kind is cst.SimpleStatementLine else ():
        if type(small) in (cst.Import, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                bound = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                found[bound] = alias
        elif type(small) is cst.Assign:
            found.update(dict.fromkeys(n for t in small.targets for n in _bound_by(t.target)))
        elif type(small) is cst.AnnAssign:
            found.update(dict.fromkeys(_bound_by(small.target)))
    return found


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


def ids_under(node: cst.CSTNode) -> frozenset[int]:
    """The ids of node and of every node under it (layout left out), remembered."""
    return remembered("ids", node, lambda: frozenset(map(id, walk(node))))


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


def untrailed(elements: list) -> list:
    """The elements (arguments, names) with no comma after the last."""
    return [*elements[:-1], elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]


_FILLED: list = [None, set()]  # (module, result): every knockout pass asks about the same module


def _filled_by_position(module: cst.Module) -> set[tuple[str, str]]:
    """(function, parameter) pairs that some call in the module may fill by position. A call through a
    module (`self.compressor(x, None, ...)`, `layer(...)`) may reach any class's forward."""
    if _FILLED[0] is module:
        return _FILLED[1]
    defined: dict[str, list[list[str]]] = {}
    classes = {s.name.value for s in module.body if isinstance(s, cst.ClassDef)}
    calls, submodules = [], set()  # submodules: `self.x = SomeLocalClass(...)` (or a list of them)
    for n in walk(module):  # one walk for all three; exact types (libcst's ABC isinstance is slow)
        kind = type(n)
        if kind is cst.FunctionDef:
            defined.setdefault(n.name.value, []).append([p.name.value for p in n.params.params if p.name.value != "self"])
        elif kind is cst.Call:
            calls.append(n)
        elif kind is cst.Assign and len(n.targets) == 1 and dotted(n.targets[0].target).startswith("self."):
            if any(type(v) is cst.Name and v.value in classes for v in walk(n.value)):
                submodules.add(n.targets[0].target.attr.value)
    found = set()
    for call in calls:
        callee = dotted(call.func)
        name = callee.rsplit(".", 1)[-1]
        if name not in defined and (isinstance(call.func, cst.Name) or (callee.startswith("self.") and name in submodules)):
            name = "forward"
        count = sum(1 for a in call.args if a.keyword is None and a.star == "")
        for params in defined.get(name, []):
            found.update((name, p) for p in params[:count])
    _FILLED[:] = [module, found]
    return found


def read_on_entry(name: str, statements) -> bool:
    """Whether a function reads the value its parameter `name` came in with (not only a value it assigns first).
    statements: (statement, the names it holds) of the body, in order."""
    for stmt, names in statements:
        small = only_small(stmt)
        target = sole_target(small) if type(small) is cst.Assign else None
        if type(target) is cst.Name and target.value == name and name not in names_in(small.value):
            return False  # `name = ...` not reading it: the value it came in with is gone
        if name in names:
            return True
    return False


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
        self._positional = {(f, p) for f, p in _filled_by_position(node) if p in self.NAMES} if self.NAMES else set()

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
