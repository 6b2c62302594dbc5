"""Input checks: `if bad: raise` and `assert` guard the caller, they do not compute."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import only_small
from archread.parsers.passes.base import StripPass


def _only_raise(block) -> bool:
    """An indented block of one `raise` statement. Exact types, not a matcher: every `if` is tested."""
    return type(block) is cst.IndentedBlock and len(block.body) == 1 and type(only_small(block.body[0])) is cst.Raise


class Guards(StripPass):
    NAME = "guards"
    DESCRIPTION = "`if ...: raise` checks, `else: raise` branches and assert statements."
    STRIP = [("def f(x):\n    if x is None:\n        raise ValueError('x')\n    assert x > 0\n    return x\n", "def f(x):\n    return x\n")]
    KEEP = ["def f(x):\n    if x is None:\n        x = 0\n    return x\n"]

    def leave_If(self, original, updated):
        if isinstance(updated.orelse, cst.Else) and _only_raise(updated.orelse.body):
            self.ctx.remove(self.NAME, updated.orelse)
            updated = updated.with_changes(orelse=None)
        if updated.orelse is None and _only_raise(updated.body):
            return self.removed(updated)
        return updated

    def leave_Assert(self, original, updated):
        return self.removed(original)
