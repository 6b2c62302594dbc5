"""Dropout: the identity at inference; calls become their input, modules disappear."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted, find, is_self_attr, method, sole_target
from archread.parsers.passes.base import Knockout

_FUNCTIONAL = {"dropout", "dropout1d", "dropout2d", "alpha_dropout"}
_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "AlphaDropout"}
_TORCH_HEADS = {"F", "nn.functional", "torch.nn.functional", "functional", "torch"}


class Dropout(Knockout):
    NAME = "dropout"
    DESCRIPTION = "nn.Dropout modules and their calls, functional dropout, training-only branches."
    ATTRS = {"training": False}
    STRIP = [(
        "class A(nn.Module):\n    def __init__(self):\n        self.drop = nn.Dropout(0.1)\n"
        "    def forward(self, x):\n        x = self.drop(x)\n        return F.dropout(x, p=0.1, training=self.training)\n",
        "class A(nn.Module):\n    def __init__(self):\n        pass\n\n    def forward(self, x):\n        return x\n",
    )]
    KEEP = ["def f(self, x):\n    return self.proj(x)\n"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self._modules: set[str] = set()  # self attributes holding a dropout module

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        inits = [method(c, "__init__") for c in node.body if isinstance(c, cst.ClassDef)]
        for init in filter(None, inits):
            for assign in find(init, cst.Assign):
                if (len(assign.targets) == 1 and is_self_attr(assign.targets[0].target) and type(assign.value) is cst.Call
                        and dotted(assign.value.func).rsplit(".", 1)[-1] in _MODULES):
                    self._modules.add(assign.targets[0].target.attr.value)

    def leave_Assign(self, original, updated):
        # exact types, not matchers: this runs on every assignment, and libcst's matchers are slow
        target = sole_target(updated)
        value = updated.value
        if type(target) is cst.Name and type(value) is cst.Name and target.value == value.value:
            return self.removed(original)  # `x = self.dropout(x)` became `x = x`
        if is_self_attr(target) and type(value) is cst.Call and dotted(value.func).rsplit(".", 1)[-1] in _MODULES:
            return self.removed(original)
        return updated

    def leave_Call(self, original, updated):
        updated = super().leave_Call(original, updated)
        if not isinstance(updated, cst.Call) or not updated.args:
            return updated
        head, _, last = dotted(updated.func).rpartition(".")
        is_functional = last in _FUNCTIONAL and head in _TORCH_HEADS
        is_module = is_self_attr(updated.func) and updated.func.attr.value in self._modules
        if (is_functional or is_module) and updated.args[0].keyword is None:
            return updated.args[0].value
        return updated
