"""Inline helpers: a method taking only `self` and returning nothing, run once as the statement `self.m()` in
another method of its class (4.4x attention's `self._init_rope()` in `__init__`), is replaced there by its body,
so what it builds reads where it is built. One of the three inline passes (temporaries: `inline`, static
helpers: `inline_statics`); all three report as `inline`.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.names import bound_names, name_counts
from archread.parsers.analysis.nodes import SCOPED, only_small, statements_in
from archread.parsers.analysis.rewrite import Splice
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass


def _self_call(stmt) -> str | None:
    """m of the statement `self.m()`."""
    small = only_small(stmt)
    call = small.value if type(small) is cst.Expr else None
    if type(call) is cst.Call and not call.args and type(call.func) is cst.Attribute:
        if type(call.func.value) is cst.Name and call.func.value.value == "self":
            return call.func.attr.value
    return None


def _inlinable(helper: cst.FunctionDef, caller: cst.FunctionDef) -> bool:
    params = helper.params
    if helper.decorators or [p.name.value for p in params.params] != ["self"] or params.star_arg is not cst.MaybeSentinel.DEFAULT \
            or params.kwonly_params or params.star_kwarg is not None or params.posonly_params:
        return False
    if type(helper.body) is not cst.IndentedBlock or any(type(n) in SCOPED for n in walk(helper.body)):
        return False  # a return would leave the caller; a nested scope or global statement reads differently
    return not ((set(bound_names(helper.body)) - {"self"}) & set(name_counts(caller)))  # its locals must not meet the caller's




class InlineHelpers(StripPass):
    NAME = "inline"
    DESCRIPTION = "A helper method run once, as `self.m()`, from another method of its class gives that call its body."
    STRIP = [
        ("class A(nn.Module):\n    def __init__(self, config):\n        self.config = config\n        self._init_rope()\n\n"
         "    def _init_rope(self):\n        if self.config.rope:\n            self.rope = R()\n",
         "class A(nn.Module):\n    def __init__(self, config):\n        self.config = config\n        if self.config.rope:\n"
         "            self.rope = R()\n"),
    ]
    KEEP = [
        "class A(nn.Module):\n    def __init__(self):\n        self._build()\n\n    def _build(self):\n        if x:\n"
        "            return\n        self.p = 1\n",  # the helper's return would leave the caller
        "class A(nn.Module):\n    def __init__(self):\n        self._build()\n\n    def forward(self, x):\n"
        "        self._build()\n        return x\n\n    def _build(self):\n        self.p = 1\n",  # run twice
        "class A(nn.Module):\n    def __init__(self, n):\n        self._build()\n        self.p = n\n\n"
        "    def _build(self):\n        n = 2\n        self.q = n * n\n",  # its local would overwrite the caller's
    ]

    def leave_Module(self, original, updated):
        return self._inline_helpers(updated)

    def _inline_helpers(self, module: cst.Module) -> cst.Module:
        """A method taking only `self` and returning nothing, called once, as the statement `self.m()` in
        another method of its class (4.4x attention's `self._init_rope()` in `__init__`): its body replaces
        the call, so what it builds reads where it is built."""
        classes = [s for s in module.body if type(s) is cst.ClassDef]
        defined = Counter(f.name.value for c in classes for f in c.body.body if type(f) is cst.FunctionDef)
        calls = {}  # class name -> {method: (caller, call statement)}
        for cls in classes:
            methods = {f.name.value: f for f in cls.body.body if type(f) is cst.FunctionDef}
            for caller in methods.values():
                for stmt in statements_in(caller.body.body):
                    name = _self_call(stmt)
                    helper = methods.get(name)
                    if helper is not None and helper is not caller and defined[name] == 1 and _inlinable(helper, caller):
                        calls.setdefault(cls.name.value, {})[name] = (caller, stmt)
        if not calls:
            return module
        uses = Counter(a.attr.value for a in walk(module) if type(a) is cst.Attribute)  # the call its one use
        body = []
        for stmt in module.body:
            if type(stmt) is cst.ClassDef:
                todo = {n: c for n, c in calls.get(stmt.name.value, {}).items() if uses[n] == 1}
                stmt = self._inline_into(stmt, todo) if todo else stmt
            body.append(stmt)
        return module.with_changes(body=body)


    def _inline_into(self, cls: cst.ClassDef, todo: dict) -> cst.ClassDef:
        helpers = {f.name.value: f for f in cls.body.body if type(f) is cst.FunctionDef and f.name.value in todo}
        by_call = {id(call): helpers[name].body.body for name, (_, call) in todo.items()}
        members = []
        for f in cls.body.body:
            if type(f) is cst.FunctionDef and f.name.value in helpers:
                self.ctx.removed[self.NAME] += 2  # its `def` line and the call
                continue
            if type(f) is cst.FunctionDef and any(caller is f for caller, _ in todo.values()):
                f = transform(f, Splice(by_call))
            members.append(f)
        return cls.with_changes(body=cls.body.with_changes(body=members))

