"""nn.Module bases: a class built straight on nn.Module is built on the prelude's `Module`, which is set up
before the class's own `__init__` runs, so its `super().__init__()` line — scaffolding, not math — goes."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.names import bound_at_top
from archread.parsers.analysis.nodes import dotted, only_small
from archread.parsers.passes.base import StripPass

_NN_MODULE = ("nn.Module", "torch.nn.Module")


def _module_setup(stmt: cst.CSTNode, cls: str) -> bool:
    """`super().__init__()`, `super(Cls, self).__init__()` or `nn.Module.__init__(self)`: nn.Module's set-up."""
    small = only_small(stmt)
    call = small.value if type(small) is cst.Expr else None
    if type(call) is not cst.Call or type(call.func) is not cst.Attribute or call.func.attr.value != "__init__":
        return False
    owner = call.func.value
    if type(owner) is cst.Call and dotted(owner.func) == "super" and not call.args:
        return not owner.args or (len(owner.args) == 2 and dotted(owner.args[0].value) == cls)
    return dotted(owner) in _NN_MODULE and [dotted(a.value) for a in call.args] == ["self"]


class ModuleBase(StripPass):
    NAME = "module_init"
    DESCRIPTION = "super().__init__() of classes built on nn.Module (the prelude's Module sets them up)."
    STRIP = [(
        "class A(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n        self.p = nn.Linear(n, n)\n\n"
        "    def forward(self, x):\n        return self.p(x)\n",
        "class A(Module):\n    def __init__(self, n):\n        self.p = nn.Linear(n, n)\n\n    def forward(self, x):\n        return self.p(x)\n",
    )]
    KEEP = [  # a local base's __init__ is math; an __init__ with nothing else keeps its signature
        "class B(A):\n    def __init__(self, n):\n        super().__init__(n)\n        self.q = nn.Linear(n, n)\n",
        "class A(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n\n    def forward(self, x):\n        return x\n",
        "from torch.nn import Module\nclass A(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"  # its own Module
        "        self.p = Module()\n",
    ]

    def leave_Module(self, original, updated):
        if any("Module" in bound_at_top(s) for s in updated.body):  # the file's own `Module`: the prelude's would clash
            return updated
        return updated.with_changes(body=[self._rebased(s) if type(s) is cst.ClassDef else s for s in updated.body])

    def _rebased(self, cls: cst.ClassDef) -> cst.ClassDef:
        if len(cls.bases) != 1 or cls.bases[0].keyword or dotted(cls.bases[0].value) not in _NN_MODULE:
            return cls
        body = []
        for stmt in cls.body.body:
            if type(stmt) is cst.FunctionDef and stmt.name.value == "__init__":
                kept = [s for s in stmt.body.body if not _module_setup(s, cls.name.value)]
                if not kept:  # nothing but the set-up: the line stays, so the signature does
                    return cls
                self.ctx.removed[self.NAME] += len(stmt.body.body) - len(kept)
                stmt = stmt.with_changes(body=stmt.body.with_changes(body=kept))
            body.append(stmt)
        return cls.with_changes(bases=[cls.bases[0].with_changes(value=cst.Name("Module"))], body=cls.body.with_changes(body=body))
