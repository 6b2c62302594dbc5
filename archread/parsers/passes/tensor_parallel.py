"""`pretraining_tp` branches: Llama-era weight slicing that reproduces tensor-parallel rounding."""

from __future__ import annotations

from archread.parsers.passes.base import Knockout


class TensorParallel(Knockout):
    NAME = "tensor_parallel"
    DESCRIPTION = "Branches taken when config.pretraining_tp > 1 (sliced matmuls); the plain path stays."
    ATTRS = {"pretraining_tp": 1}
    STRIP = [(
        "def f(self, x):\n    if self.config.pretraining_tp > 1:\n        y = split(x)\n    else:\n        y = self.proj(x)\n    return y\n",
        "def f(self, x):\n    y = self.proj(x)\n    return y\n",
    )]
    KEEP = ["def f(self, x):\n    if self.tp > 1:\n        x = 2 * x\n    return x\n"]
