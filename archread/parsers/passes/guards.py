"""Input checks: `if bad: raise` and `assert` guard the caller, they do not compute; nor does a call of the
configuration's own method whose result is dropped (MPT's `config._validate_config()`): it checks the configuration
or fills defaults that a saved config.json already holds, and a plain configuration lacks the method."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import is_config, only_small
from archread.parsers.passes.base import StripPass


def _only_raise(block) -> bool:
    """An indented block of one `raise` statement. Exact types, not a matcher: every `if` is tested."""
    return type(block) is cst.IndentedBlock and len(block.body) == 1 and type(only_small(block.body[0])) is cst.Raise


def _config_check(stmt) -> bool:
    """`config.m(...)` / `self.config.m(...)` as a statement of its own: its result is not read."""
    small = only_small(stmt)
    if type(small) is not cst.Expr or type(small.value) is not cst.Call:
        return False
    func = small.value.func
    return type(func) is cst.Attribute and is_config(func.value)


class Guards(StripPass):
    NAME = "guards"
    DESCRIPTION = "`if ...: raise` checks, `else: raise` branches and assert statements."
    STRIP = [("def f(x):\n    if x is None:\n        raise ValueError('x')\n    assert x > 0\n    return x\n", "def f(x):\n    return x\n")]
    STRIP += [("def __init__(self, config):\n    config._validate_config()\n    self.n = config.n\n",
               "def __init__(self, config):\n    self.n = config.n\n")]
    KEEP = ["def f(x):\n    if x is None:\n        x = 0\n    return x\n",
            "def __init__(self, config):\n    self.n = config.get_n()\n    self.m = f(config)\n"]

    def leave_SimpleStatementLine(self, original, updated):
        return self.removed(original) if _config_check(updated) else updated

    def leave_If(self, original, updated):
        if isinstance(updated.orelse, cst.Else) and _only_raise(updated.orelse.body):
            self.ctx.remove(self.NAME, updated.orelse)
            updated = updated.with_changes(orelse=None)
        if updated.orelse is None and _only_raise(updated.body):
            return self.removed(updated)
        return updated

    def leave_Assert(self, original, updated):
        return self.removed(original)
