"""Type annotations: they document, they do not compute."""

from __future__ import annotations

import libcst as cst

from archread.parsers.passes.base import StripPass


class Annotations(StripPass):
    NAME = "annotations"
    DESCRIPTION = "Parameter, return and variable annotations; bare class-level annotations."
    STRIP = [("def f(x: torch.Tensor) -> torch.Tensor:\n    y: int = 1\n    return x\n", "def f(x):\n    y = 1\n    return x\n")]
    KEEP = ["def f(x=1):\n    return x\n"]

    def leave_Param(self, original, updated):
        if updated.annotation is None:
            return updated
        tight = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
        return updated.with_changes(annotation=None, equal=tight if updated.default is not None else updated.equal)

    def leave_FunctionDef(self, original, updated):
        updated = super().leave_FunctionDef(original, updated)
        return updated.with_changes(returns=None) if updated.returns is not None else updated

    def leave_AnnAssign(self, original, updated):
        if updated.value is None:
            return self.removed(original)
        return cst.Assign(targets=[cst.AssignTarget(updated.target)], value=updated.value)
