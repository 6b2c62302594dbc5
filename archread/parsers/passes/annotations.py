"""Type annotations: they document, they do not compute."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.dataclass_fields import fields_read, named_tuples
from archread.parsers.passes.base import StripPass


class Annotations(StripPass):
    NAME = "annotations"
    DESCRIPTION = ("Parameter, return and variable annotations; bare class-level annotations (a dataclass's whose "
                   "fields are read and a NamedTuple keep their own).")
    STRIP = [("def f(x: torch.Tensor) -> torch.Tensor:\n    y: int = 1\n    return x\n", "def f(x):\n    y = 1\n    return x\n")]
    KEEP = ["def f(x=1):\n    return x\n",
            "class Out(NamedTuple):\n    logits: torch.Tensor\n    extra: int = 0\n",  # a NamedTuple's fields
            "@dataclass\nclass MemCache:\n    keys: torch.Tensor\ndef f(x):\n    return MemCache(keys=x).keys\n"]

    def visit_Module(self, node):
        super().visit_Module(node)
        self.fields_read = fields_read(node) | named_tuples(node)  # `fields(ModelConfig)`: its annotations are its fields
        self.classes: list[str] = []

    def visit_ClassDef(self, node):
        self.classes.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self.classes.pop()
        return updated

    def visit_FunctionDef(self, node):
        self.classes.append("")  # a method's body is no class body
        return super().visit_FunctionDef(node) if hasattr(super(), "visit_FunctionDef") else None

    def leave_Param(self, original, updated):
        if updated.annotation is None:
            return updated
        tight = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
        return updated.with_changes(annotation=None, equal=tight if updated.default is not None else updated.equal)

    def leave_FunctionDef(self, original, updated):
        self.classes.pop()
        updated = super().leave_FunctionDef(original, updated)
        return updated.with_changes(returns=None) if updated.returns is not None else updated

    def leave_AnnAssign(self, original, updated):
        if self.classes and self.classes[-1] in self.fields_read:
            return updated
        if updated.value is None:
            return self.removed(original)
        return cst.Assign(targets=[cst.AssignTarget(updated.target)], value=updated.value)
