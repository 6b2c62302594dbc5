"""Unread locals: assignments no later statement reads, dropped, with what makes them unread first (a literal
stored once and read as itself, a constant stored after its last read, a loop counter nothing reads).

Run by dead code on every function, and by the passes that leave a value unread (signatures, returns); what it
drops is credited to the pass named by the caller."""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.folding import Fold
from archread.parsers.analysis.names import bound_at_top, bound_names, names_in
from archread.parsers.analysis.nodes import call_of, find, only_small, sole_target
from archread.parsers.analysis.rewrite import FoldZero, LiteralsFrom, ReplaceReads, Selective
from archread.parsers.context import PassContext
from archread.parsers.fastcst import transform, walk

_BUILTIN_CALLS = {"getattr", "hasattr", "int", "float", "bool", "len", "max", "min", "isinstance", "str", "range"}


def plain(value: cst.CSTNode) -> bool:
    """No call that could build a module or parameter."""
    for call in find(value, cst.Call):
        if not (isinstance(call.func, cst.Name) and call.func.value in _BUILTIN_CALLS):
            return False
    return True


def builders_free(module: cst.Module) -> set[str]:
    """The module-level functions that build no module or parameter, however called: each call they make is a
    builtin, another such function, or a method of data they hold (`templates[name].copy()`, the data a local
    or a module-level value), never of an import, a class or a name bound nowhere (`nn.Linear`, `torch.zeros`).
    InternVL's `get_conv_template`."""
    functions = {s.name.value: s for s in module.body if type(s) is cst.FunctionDef}
    data = {n for s in module.body if type(only_small(s)) in (cst.Assign, cst.AnnAssign) for n in bound_at_top(s)}
    free = set(functions)
    changed = True
    while changed:  # a function is free while every function it calls is
        changed = False
        for name in sorted(free):
            own = data | set(bound_names(functions[name])) | {a.name.value for a in functions[name].params.params}
            if not all(_builds_nothing(call, own, free) for call in find(functions[name].body, cst.Call)):
                free.discard(name)
                changed = True
    return free


def _builds_nothing(call: cst.Call, data: set[str], free: set[str]) -> bool:
    if type(call.func) is cst.Name:
        return call.func.value in _BUILTIN_CALLS or call.func.value in free
    if type(call.func) is not cst.Attribute:  # `NORMS[kind](dim)`: a table of classes may build one
        return False
    root = call.func
    while type(root) in (cst.Attribute, cst.Subscript, cst.Call):
        root = root.func if type(root) is cst.Call else root.value
    return type(root) is cst.Name and root.value in data


def calls_only(value: cst.CSTNode, free: set[str]) -> bool:
    """`plain`, or calls of those functions only."""
    return all(type(c.func) is cst.Name and (c.func.value in _BUILTIN_CALLS or c.func.value in free) for c in find(value, cst.Call))


def flag_literals(ctx: PassContext, credit: str) -> LiteralsFrom:
    """The context folding reads `True`/`False` flags in, crediting `credit` with what it drops."""
    return LiteralsFrom(ctx, credit, ("True", "False"))


def _constant_store(stmt, names: tuple[str, ...]) -> str | None:
    """x of the statement `x = 0`, `x = 1.5` or `x = N` for a name N of names (`True`, `None`). Exact types,
    not a matcher: every statement is tested."""
    small = only_small(stmt)
    target = sole_target(small) if type(small) is cst.Assign else None
    if type(target) is not cst.Name:
        return None
    value = small.value
    constant = type(value) in (cst.Integer, cst.Float) or (type(value) is cst.Name and value.value in names)
    return target.value if constant else None


def _literal_store(stmt) -> str | None:
    """x of the statement `x = 0`, `x = 1.5`, `x = False`."""
    return _constant_store(stmt, ("True", "False"))


def _inline_literals(fn: cst.FunctionDef, ctx: PassContext, credit: str) -> cst.FunctionDef:
    """`past_seen_tokens = 0` or `has_layer_past = False` (a folded `layer_past is not None`) assigned once at
    the top of the body and never again: the reads become the literal, and the branches a flag guards fold."""
    if not any(_literal_store(stmt) for stmt in fn.body.body):  # the usual case: no walk needed
        return fn
    params = {p.name.value for p in (*fn.params.params, *fn.params.kwonly_params, *fn.params.posonly_params)}
    # a `global` name is the module's, which other code reads and sets: no local of this body
    params |= {n.name.value for g in find(fn.body, cst.Global) for n in g.names}
    stores = bound_names(fn.body)
    literals, body = {}, []
    for stmt in fn.body.body:
        name = _literal_store(stmt)
        if name and stores[name] == 1 and name not in params and name not in literals:
            literals[name] = stmt.body[0].value
            continue
        body.append(stmt)
    if not literals:
        return fn
    fn = fn.with_changes(body=fn.body.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])]))
    fn = transform(fn, ReplaceReads({k: v.deep_clone for k, v in literals.items()}))
    if any(type(v) is not cst.Name for v in literals.values()):
        fn = transform(fn, FoldZero())
    if any(type(v) is cst.Name for v in literals.values()):
        fn = transform(fn, Fold(flag_literals(ctx, credit)))  # `if has_layer_past:` now reads `if False:`
    return fn


def _drop_dead_tail_stores(fn: cst.FunctionDef, ctx: PassContext, credit: str) -> cst.FunctionDef:
    """`attn_weights = None` after the last read of attn_weights, at the top of the body (no loop brings
    control back): nothing reads the constant. A nested function or lambda may read it later: then all stay."""
    body = fn.body.body
    if not any(_constant_store(stmt, ("None",)) for stmt in body) or find(fn.body, (cst.FunctionDef, cst.Lambda)):
        return fn
    later: set[str] = set()
    kept = []
    for stmt in reversed(body):
        name = _constant_store(stmt, ("None",))
        if name and name not in later:
            ctx.remove(credit, stmt)
            continue
        later |= names_in(stmt)
        kept.append(stmt)
    return fn.with_changes(body=fn.body.with_changes(body=kept[::-1] or [cst.SimpleStatementLine([cst.Pass()])]))


def _census(body: cst.CSTNode) -> tuple[Counter, Counter]:
    """One walk: each name's occurrences (name_counts' rule) and its stores as a bare name (`x = …`, `x += …`)."""
    skip, seen, stored = set(), Counter(), Counter()
    for n in walk(body):  # parents before children; exact types (libcst's ABC isinstance is slow)
        kind = type(n)
        if kind is cst.Name:
            if id(n) not in skip:
                seen[n.value] += 1
        elif kind is cst.Attribute:
            skip.add(id(n.attr))
        elif kind is cst.Arg:
            if n.keyword is not None:
                skip.add(id(n.keyword))
        elif kind is cst.Assign:
            if len(n.targets) == 1 and type(n.targets[0].target) is cst.Name:
                stored[n.targets[0].target.value] += 1
        elif kind is cst.AugAssign:
            if type(n.target) is cst.Name:
                stored[n.target.value] += 1
    return seen, stored


def drop_unread_locals(fn: cst.FunctionDef, ctx: PassContext, credit: str) -> cst.FunctionDef:
    """fn without the local assignments nothing reads, what is dropped credited to the pass `credit` names."""
    fn = _drop_dead_tail_stores(_inline_literals(fn, ctx, credit), ctx, credit)
    seen, stored = _census(fn.body)
    if seen["enumerate"]:
        fn = transform(fn, _UncountedLoops(seen))
    while True:
        dead = {name for name, count in stored.items() if seen[name] == count}
        if not dead:
            return fn
        fn = transform(fn, _DropAssignments(dead, ctx, credit))
        seen, stored = _census(fn.body)


class _UncountedLoops(Selective):
    """`for idx, layer in enumerate(self.layers):` whose idx nothing reads: `for layer in self.layers:`."""

    def __init__(self, seen: Counter):
        super().__init__()
        self.seen = seen

    def touches(self, stmt) -> bool:
        return "enumerate" in names_in(stmt)

    def leave_For(self, original, updated):
        target, it = updated.target, updated.iter
        if not (type(target) is cst.Tuple and len(target.elements) == 2 and call_of(it, "enumerate") and len(it.args) == 1
                and all(type(e) is cst.Element and type(e.value) is cst.Name for e in target.elements)):
            return updated
        index = target.elements[0].value.value
        if self.seen[index] != 1:  # read somewhere (or bound again): it stays
            return updated
        return updated.with_changes(target=target.elements[1].value, iter=it.args[0].value)


class _DropAssignments(Selective):
    def __init__(self, dead: set[str], ctx: PassContext, credit: str):
        super().__init__()
        self.dead, self.ctx, self.credit = dead, ctx, credit

    def _removed(self, node) -> cst.RemovalSentinel:
        self.ctx.remove(self.credit, node)
        return cst.RemovalSentinel.REMOVE

    def touches(self, stmt) -> bool:
        return not self.dead.isdisjoint(names_in(stmt))

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if type(target) is cst.Name and target.value in self.dead:
            return self._removed(original)
        return updated

    def leave_AugAssign(self, original, updated):
        if type(updated.target) is cst.Name and updated.target.value in self.dead:
            return self._removed(original)
        return updated

    def leave_If(self, original, updated):
        """`if test: sliding_window = ...` with that store gone: an `if` left holding only `pass`, whose test
        computes nothing (`plain`: no calls but builtins), has nothing left to do."""
        body = updated.body.body
        empty = all(type(s) is cst.SimpleStatementLine and all(type(x) is cst.Pass for x in s.body) for s in body)
        if empty and updated.orelse is None and plain(updated.test):
            return self._removed(original)
        return updated
