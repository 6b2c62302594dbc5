"""Input checks: `if bad: raise` and `assert` guard the caller, they do not compute."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.passes.base import StripPass

_ONLY_RAISE = m.IndentedBlock(body=[m.SimpleStatementLine([m.Raise()])])


class Guards(StripPass):
    NAME = "guards"
    DESCRIPTION = "`if ...: raise` checks, `else: raise` branches and assert statements."
    STRIP = [("def f(x):\n    if x is None:\n        raise ValueError('x')\n    assert x > 0\n    return x\n", "def f(x):\n    return x\n")]
    KEEP = ["def f(x):\n    if x is None:\n        x = 0\n    return x\n"]

    def leave_If(self, original, updated):
        if isinstance(updated.orelse, cst.Else) and m.matches(updated.orelse.body, _ONLY_RAISE):
            self.ctx.remove(self.NAME, updated.orelse)
            updated = updated.with_changes(orelse=None)
        if updated.orelse is None and m.matches(updated.body, _ONLY_RAISE):
            return self.removed(updated)
        return updated

    def leave_Assert(self, original, updated):
        return self.removed(original)
