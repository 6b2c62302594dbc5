"""Branches that read a name nothing binds any more: the branches not taken.

A fold can take away the only binding of a local that another branch still reads: Fast-dLLM's Dream binds
`replace_indices` under `if past_key_value is not None:` and reads it under a later `if dual_cache:`. With the
cache folded away, that later branch could only raise NameError, so the reading the reduction gives (no cache)
never takes it: its `if` folds to the other branch. Only the original function's own locals count (a module-level
name a file never binds is a forgotten import, reported as unresolved), so a module whose every read is bound is
left exactly as it is.
"""

from __future__ import annotations

import builtins

import libcst as cst

from archread.parsers.analysis.names import bound_at_top, bound_names, other_binders
from archread.parsers.fastcst import transform, walk
from archread.parsers.prelude_names import prelude_names

_MODULE_NAMES = {"__name__", "__file__", "__doc__", "__spec__", "__package__", "__loader__", "__builtins__",
                 "__annotations__", "__path__", "__dict__", "__class__"}


def _binds(fn: cst.CSTNode) -> set[str]:
    """Every name the function (its nested functions and lambdas too: more is only safer) can bind."""
    return set(bound_names(fn)) | other_binders(fn)


def _reads(node: cst.CSTNode) -> set[str]:
    """The bare names read under node: not `x.attr`'s attr, a call's keyword, nor an import's module path."""
    names, skip = [], set()
    for n in walk(node):
        kind = type(n)
        if kind is cst.Name:
            names.append(n)
        elif kind in (cst.Import, cst.ImportFrom):
            skip.update(id(x) for x in walk(n))
        elif kind is cst.Attribute:
            skip.add(id(n.attr))
        elif kind is cst.Arg and n.keyword is not None:
            skip.add(id(n.keyword))
    return {n.value for n in names if id(n) not in skip}


def _locals_by_function(module: cst.Module) -> dict[tuple[str, ...], set[str]]:
    """(Class, method) or (function,) -> the names it binds, for each function of a module."""
    out: dict[tuple[str, ...], set[str]] = {}

    def visit(stmts, path):
        for stmt in stmts:
            if type(stmt) is cst.FunctionDef:
                out[(*path, stmt.name.value)] = _binds(stmt)
                visit(stmt.body.body, (*path, stmt.name.value))
            elif type(stmt) is cst.ClassDef:
                visit(stmt.body.body, (*path, stmt.name.value))

    visit(module.body, ())
    return out


class _Fold(cst.CSTTransformer):
    def __init__(self, known: set[str], was_local: dict[tuple[str, ...], set[str]], removed):
        super().__init__()
        self.known = known
        self.was_local = was_local  # what each function of the original bound
        self.removed = removed  # told of each block that goes, for the reduction's count
        self.path: list[str] = []
        self.scopes: list[set[str]] = []
        self.folded = 0

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.path.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self.path.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.path.append(node.name.value)
        self.scopes.append(_binds(node))

    def leave_FunctionDef(self, original, updated):
        self.path.pop()
        self.scopes.pop()
        if not updated.body.body:  # the one statement was a branch that could not run
            return updated.with_changes(body=updated.body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])]))
        return updated

    def _lost(self, block: cst.CSTNode) -> bool:
        """Whether the block reads a local of the original function that nothing binds now."""
        was = self.was_local.get(tuple(self.path), set())
        return any(n in was and n not in self.known and not any(n in s for s in self.scopes) for n in _reads(block))

    def leave_If(self, original, updated):
        if not self.scopes or not self._lost(updated.body):
            return updated
        self.folded += 1
        if updated.orelse is None:
            return self.removed(original)
        self.removed(original.body)
        if type(updated.orelse) is cst.If:
            return updated.orelse.with_changes(leading_lines=updated.leading_lines)
        return cst.FlattenSentinel(updated.orelse.body.body)


def fold_unbound_branches(module: cst.Module, removed, original: cst.Module, restored: set[str]) -> cst.Module:
    """The module with each `if` inside a function whose branch reads a local of the original function that no
    binding is left for folded to its other branch; `removed(node)` is told of each block that goes. Only locals
    count: a module-level name the file never binds (a kernel it forgot to import) is another matter, reported
    as unresolved. What the original module bound at its top counts as bound (`if is_torch_available(): import
    torch` is folded before the imports pass puts torch back), and so do the names that pass restores."""
    top: set[str] = set(restored)
    for stmt in (*original.body, *module.body):
        top.update(bound_at_top(stmt))
        for node in walk(stmt) if type(stmt) in (cst.SimpleStatementLine, cst.If, cst.Try) else ():
            if type(node) is cst.ImportFrom and type(node.names) is cst.ImportStar:
                return module  # a star import binds what it cannot say
    known = top | set(dir(builtins)) | _MODULE_NAMES | prelude_names()
    if _reads(module) <= known | _binds(module):  # every read name is bound somewhere: nothing to look for
        return module
    fold = _Fold(known, _locals_by_function(original), removed)
    folded = transform(module, fold)
    return folded if fold.folded else module  # the same nodes where none went: what later passes count by them holds
