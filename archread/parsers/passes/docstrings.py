"""Docstrings, bare strings and comments: prose, not math."""

from __future__ import annotations

import libcst as cst

from archread.parsers.passes.base import StripPass


class Docstrings(StripPass):
    NAME = "docstrings"
    DESCRIPTION = "Docstrings, bare string statements and comments."
    STRIP = [('def f(x):\n    """Doc."""\n    # why\n    return x  # trailing\n', "def f(x):\n    return x\n")]
    KEEP = ['def f():\n    return "text"\n']

    def leave_SimpleStatementLine(self, original, updated):
        small = updated.body[0] if len(updated.body) == 1 else None  # exact types: every statement passes here
        if type(small) is cst.Expr and type(small.value) in (cst.SimpleString, cst.ConcatenatedString):
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
