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
    STRIP = [("def f(x):\n    logger.warning_once('slow')\n    return x\n", "def f(x):\n    return x\n"),
             ("log_qwen2 = logging.get_logger(__name__)\ndef f(x):\n    log_qwen2.warning('slow')\n    return x\n",
              "def f(x):\n    return x\n")]
    KEEP = ["def f(x):\n    return self.log(x)\n"]

    def visit_Module(self, node: cst.Module) -> None:
        # a module logger by another name: a lender's, renamed where the module has its own (`logger_qwen2`)
        self.loggers = _LOGGERS + tuple(f"{name}." for name in _module_loggers(node))

    def leave_Expr(self, original, updated):
        if m.matches(updated.value, m.Call()) and dotted(updated.value.func).startswith(self.loggers):
            return self.removed(original)
        return updated

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if type(target) is cst.Name and (target.value == "logger" or _makes_logger(updated.value)):
            return self.removed(original)
        return updated


def _makes_logger(value: cst.BaseExpression) -> bool:
    return type(value) is cst.Call and dotted(value.func) in ("logging.get_logger", "logging.getLogger")


def _module_loggers(module: cst.Module) -> list[str]:
    """Names bound at the top of the module to `logging.get_logger(…)`."""
    found = []
    for stmt in module.body:
        small = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        target = sole_target(small) if type(small) is cst.Assign else None
        if type(target) is cst.Name and _makes_logger(small.value):
            found.append(target.value)
    return found
