"""Decorators that wrap the math in framework behaviour (hub kernels, output capture, deprecations)."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.dataclass_fields import fields_read
from archread.parsers.analysis.nodes import dotted
from archread.parsers.passes.base import StripPass

_KEEP = {"staticmethod", "classmethod", "property"}


class Decorators(StripPass):
    NAME = "decorators"
    DESCRIPTION = ("Every decorator but staticmethod, classmethod, property and a dataclass's whose fields compute (read "
                   "as data, or given as arguments).")
    STRIP = [("@auto_docstring\n@can_return_tuple\ndef f(x):\n    return x\n", "def f(x):\n    return x\n")]
    STRIP += [(  # a ModelOutput built with its fields: the framework's class, which outputs takes apart
        "@dataclass\nclass AOutput(ModelOutput):\n    logits: torch.Tensor = None\ndef f(x):\n    return AOutput(logits=x)\n",
        "class AOutput(ModelOutput):\n    logits: torch.Tensor = None\ndef f(x):\n    return AOutput(logits=x)\n")]
    KEEP = ["class A:\n    @staticmethod\n    def f(x):\n        return x\n",
            # a plain dataclass the code builds with arguments: the decorator writes the __init__ they go to
            "@dataclass\nclass MemConfig:\n    size: int = 4\ndef f(x):\n    return x * MemConfig(size=2).size\n"]

    def visit_Module(self, node):
        super().visit_Module(node)
        self.fields_read = fields_read(node)  # `fields(ModelConfig)`, `MemConfig(size=2)`: the decorator makes the fields

    def _strip(self, updated, keep=_KEEP):
        kept = [d for d in updated.decorators if dotted(d.decorator.func if type(d.decorator) is cst.Call
                                                         else d.decorator).rsplit(".", 1)[-1] in keep]
        if len(kept) == len(updated.decorators):
            return updated
        self.ctx.removed[self.NAME] += len(updated.decorators) - len(kept)
        return updated.with_changes(decorators=kept)

    def leave_FunctionDef(self, original, updated):
        return self._strip(super().leave_FunctionDef(original, updated))

    def leave_ClassDef(self, original, updated):
        return self._strip(updated, _KEEP | {"dataclass"} if updated.name.value in self.fields_read else _KEEP)
