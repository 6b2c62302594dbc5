"""One process: the branch that needs a torch.distributed process group is the one not taken.

Remote code spreads its experts over ranks (DeepSeek's `if config.ep_size > 1: … self.ep_rank = dist.get_rank()`,
then `dist.all_to_all(…)` in the forward). Outside a launch that set up a process group, torch.distributed's
rank, size and collective calls raise, so a branch that makes one unconditionally never runs to its end in a
single process: the model that runs at all runs the other branch, which is what the reduced model keeps. Probes
(`dist.is_initialized()`, `dist.is_available()`) need no group and decide nothing here.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

_DIST = "torch.distributed"


def _dist_names(module: cst.Module) -> tuple[set[str], set[str]]:
    """(dotted prefixes that stand for torch.distributed, functions imported from it by name) in module's imports."""
    prefixes, functions = set(), set()
    for line in (s for s in module.body if type(s) is cst.SimpleStatementLine):
        for small in line.body:
            if type(small) is cst.Import:
                for a in small.names:
                    name, alias = a.evaluated_name, a.evaluated_alias
                    if name == _DIST:
                        prefixes.add(alias or name)
                    elif name == "torch" and alias is None:
                        prefixes.add(_DIST)
            elif type(small) is cst.ImportFrom and not small.relative and small.module and type(small.names) is not cst.ImportStar:
                module_name = dotted(small.module)
                for a in small.names:
                    if module_name == "torch" and a.evaluated_name == "distributed":
                        prefixes.add(a.evaluated_alias or "distributed")
                    elif module_name == _DIST and not a.evaluated_name.startswith("is_"):
                        functions.add(a.evaluated_alias or a.evaluated_name)
    return prefixes, functions


class OneProcess(Knockout):
    NAME = "one_process"
    DESCRIPTION = "Branches that call torch.distributed's ranks or collectives (a process group): the other branch stays."
    STRIP = [(
        "import torch.distributed as dist\nclass AMoE(nn.Module):\n    def __init__(self, config):\n"
        "        if config.ep_size > 1:\n            self.rank = dist.get_rank()\n        else:\n            self.rank = 0\n\n"
        "    def forward(self, x):\n        if self.ep > 1:\n            dist.all_reduce(x)\n        return x * self.rank\n",
        "import torch.distributed as dist\nclass AMoE(nn.Module):\n    def __init__(self, config):\n        self.rank = 0\n\n"
        "    def forward(self, x):\n        return x * self.rank\n",
    ), (  # a probe decides nothing; the rank is the other side's call
        "from torch import distributed\ndef rank():\n    if not distributed.is_initialized():\n        return 0\n"
        "    else:\n        return distributed.get_rank()\n",
        "from torch import distributed\ndef rank():\n    return 0\n",
    )]
    KEEP = [
        "import torch.distributed as dist\ndef f(x):\n    if dist.is_initialized():\n        x = x + 1\n    return x\n",
        "import torch.distributed as dist\ndef f(x, y):\n    if y:\n        try:\n            dist.barrier()\n        except RuntimeError:\n            pass\n    return x\n",  # guarded: it may go on
        "import torch.distributed as dist\ndef f(x, y):\n    if y:\n        dist.barrier()\n    else:\n        dist.all_reduce(x)\n    return x\n",
    ]

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self._prefixes, self._functions = _dist_names(node)

    def leave_If(self, original, updated):
        if not self._prefixes and not self._functions:
            return updated
        body = self._needs_group(original.body)
        orelse = type(original.orelse) is cst.Else and self._needs_group(original.orelse.body)
        if body == orelse:
            return updated
        return updated.with_changes(test=self._const(not body))

    def _needs_group(self, block) -> bool:
        """A statement directly in the block calls torch.distributed for a rank, a size or a collective."""
        lines = [s for s in getattr(block, "body", ()) if type(s) is cst.SimpleStatementLine]
        later = {id(m) for line in lines for n in walk(line) if type(n) is cst.Lambda for m in walk(n.body)}  # runs later, if ever
        return any(type(n) is cst.Call and id(n) not in later and self._group_call(dotted(n.func))
                   for line in lines for n in walk(line))

    def _group_call(self, callee: str) -> bool:
        if callee in self._functions:
            return True
        prefix = next((p for p in self._prefixes if callee.startswith(p + ".")), None)
        return prefix is not None and not callee.rsplit(".", 1)[-1].startswith("is_")
