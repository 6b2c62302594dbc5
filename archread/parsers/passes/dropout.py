"""Dropout: the identity at inference; calls become their input, modules disappear."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted, find, is_self_attr, method, sole_target
from archread.parsers.passes.base import Knockout

_FUNCTIONAL = {"dropout", "dropout1d", "dropout2d", "alpha_dropout"}
_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "DropPath"}  # DropPath: stochastic depth
_TORCH_HEADS = {"F", "nn.functional", "torch.nn.functional", "functional", "torch"}


def _dropout_module(value: cst.CSTNode) -> bool:
    """`nn.Dropout(p)`, `DropPath(rate)`, or either beside the identity (`DropPath(r) if r > 0. else nn.Identity()`)."""
    if type(value) is cst.IfExp:
        return all(_dropout_module(v) or _identity(v) for v in (value.body, value.orelse)) and not (
            _identity(value.body) and _identity(value.orelse))
    return type(value) is cst.Call and dotted(value.func).rsplit(".", 1)[-1] in _MODULES


def _identity(value: cst.CSTNode) -> bool:
    return type(value) is cst.Call and dotted(value.func).rsplit(".", 1)[-1] == "Identity" and not value.args


class Dropout(Knockout):
    NAME = "dropout"
    DESCRIPTION = "nn.Dropout modules and their calls, functional dropout, training-only branches."
    ATTRS = {"training": False}
    STRIP = [(
        "class A(nn.Module):\n    def __init__(self):\n        self.drop = nn.Dropout(0.1)\n"
        "    def forward(self, x):\n        x = self.drop(x)\n        return F.dropout(x, p=0.1, training=self.training)\n",
        "class A(nn.Module):\n    def __init__(self):\n        pass\n\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # stochastic depth: the identity at inference too
        "class A(nn.Module):\n    def __init__(self, rate):\n        self.drop_path = DropPath(rate) if rate > 0. else nn.Identity()\n"
        "    def forward(self, x):\n        return x + self.drop_path(self.mlp(x))\n",
        "class A(nn.Module):\n    def __init__(self, rate):\n        pass\n\n    def forward(self, x):\n        return x + self.mlp(x)\n",
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
                if len(assign.targets) == 1 and is_self_attr(assign.targets[0].target) and _dropout_module(assign.value):
                    self._modules.add(assign.targets[0].target.attr.value)

    def leave_Assign(self, original, updated):
        # exact types, not matchers: this runs on every assignment, and libcst's matchers are slow
        target = sole_target(updated)
        value = updated.value
        if type(target) is cst.Name and type(value) is cst.Name and target.value == value.value:
            return self.removed(original)  # `x = self.dropout(x)` became `x = x`
        if is_self_attr(target) and _dropout_module(value):
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
