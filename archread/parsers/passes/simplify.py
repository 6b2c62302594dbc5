"""Fold the conditions the knock-out passes fixed, and tidy what that leaves empty (the fold itself is
`analysis.folding.Fold`, which dead code and signatures run too)."""

from __future__ import annotations

from archread.parsers.analysis.folding import Fold
from archread.parsers.passes.base import StripPass


class Simplify(StripPass, Fold):
    NAME = "simplify"
    DESCRIPTION = "Fold conditions fixed by knock-outs; drop branches that can no longer run."
    # the None folds need a None a knock-out made: the signatures pass's examples exercise them
    STRIP = [("if False:\n    x = 1\ny = 2\n", "y = 2\n"),
             ("def f(x):\n    if True:\n        return x\n    return 2 * x\n", "def f(x):\n    return x\n")]
    KEEP = ["if flag:\n    x = 1\n"]

    def __init__(self, ctx):
        Fold.__init__(self, ctx)
