"""Decorators that wrap the math in framework behaviour (hub kernels, output capture, deprecations)."""

from __future__ import annotations

from archread.parsers.analysis.nodes import dotted
from archread.parsers.passes.base import StripPass

_KEEP = {"staticmethod", "classmethod", "property"}


class Decorators(StripPass):
    NAME = "decorators"
    DESCRIPTION = "Every decorator but staticmethod, classmethod and property."
    STRIP = [("@auto_docstring\n@can_return_tuple\ndef f(x):\n    return x\n", "def f(x):\n    return x\n")]
    KEEP = ["class A:\n    @staticmethod\n    def f(x):\n        return x\n"]

    def _strip(self, updated):
        kept = [d for d in updated.decorators if dotted(d.decorator) in _KEEP]
        if len(kept) == len(updated.decorators):
            return updated
        self.ctx.removed[self.NAME] += len(updated.decorators) - len(kept)
        return updated.with_changes(decorators=kept)

    def leave_FunctionDef(self, original, updated):
        return self._strip(super().leave_FunctionDef(original, updated))

    def leave_ClassDef(self, original, updated):
        return self._strip(updated)
