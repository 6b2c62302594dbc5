"""Gradient checkpointing and training-only branches: the reduced model is an inference forward."""

from __future__ import annotations

from archread.parsers.analysis.nodes import is_self_attr, sole_target
from archread.parsers.passes.base import Knockout


class Checkpointing(Knockout):
    NAME = "checkpointing"
    DESCRIPTION = "`if self.gradient_checkpointing and self.training:` paths and the flag itself."
    ATTRS = {"gradient_checkpointing": False}
    STRIP = [(
        "def f(self, x):\n    if self.gradient_checkpointing and self.training:\n        x = ckpt(self.layer, x)\n    else:\n        x = self.layer(x)\n    return x\n",
        "def f(self, x):\n    x = self.layer(x)\n    return x\n",
    )]
    KEEP = ["def f(self, x):\n    return self.layer(x)\n"]

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if is_self_attr(target) and target.attr.value == "gradient_checkpointing":
            return self.removed(original)
        return updated
