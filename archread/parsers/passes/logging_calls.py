"""Logging and warnings: messages to the user, not math."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.nodes import dotted, sole_target
from archread.parsers.passes.base import StripPass

_LOGGERS = ("logger.", "logging.", "warnings.", "print")


class LoggingCalls(StripPass):
    NAME = "logging"
    DESCRIPTION = "logger.*, logging.*, warnings.warn and print calls, and the module logger."
    STRIP = [("def f(x):\n    logger.warning_once('slow')\n    return x\n", "def f(x):\n    return x\n")]
    KEEP = ["def f(x):\n    return self.log(x)\n"]

    def leave_Expr(self, original, updated):
        if m.matches(updated.value, m.Call()) and dotted(updated.value.func).startswith(_LOGGERS):
            return self.removed(original)
        return updated

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if type(target) is cst.Name and target.value == "logger":
            return self.removed(original)
        return updated
