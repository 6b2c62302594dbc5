"""Docstrings, bare strings and comments: prose, not math."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.passes.base import StripPass

_BARE_STRING = m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])


class Docstrings(StripPass):
    NAME = "docstrings"
    DESCRIPTION = "Docstrings, bare string statements and comments."
    STRIP = [('def f(x):\n    """Doc."""\n    # why\n    return x  # trailing\n', "def f(x):\n    return x\n")]
    KEEP = ['def f():\n    return "text"\n']

    def leave_SimpleStatementLine(self, original, updated):
        if m.matches(updated, _BARE_STRING):
            return self.removed(original)
        return updated

    def leave_EmptyLine(self, original, updated):
        if updated.comment is not None:
            self.ctx.removed[self.NAME] += 1
            return cst.RemovalSentinel.REMOVE
        return updated

    def leave_TrailingWhitespace(self, original, updated):
        if updated.comment is None:
            return updated
        return updated.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))
