"""Autocast plumbing: a reduced model runs without autocast, so a block that switches it off is its body and a
cast made only under autocast is none. What the block meant (this component computes in the dtype its inputs
arrive in, whatever autocast says) is kept as a precision fact (`PassContext.autocast_off`), not as code."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.passes.base import Knockout

AUTOCAST = ("autocast", "maybe_autocast")


def _switches_off(item: cst.WithItem) -> bool:
    call = item.item
    if type(call) is not cst.Call or dotted(call.func).rsplit(".", 1)[-1] not in AUTOCAST or item.asname is not None:
        return False
    return any(a.keyword is not None and a.keyword.value == "enabled" and type(a.value) is cst.Name
               and a.value.value == "False" for a in call.args)


class Autocast(Knockout):
    NAME = "autocast"
    DESCRIPTION = "Autocast plumbing: `with autocast(enabled=False):` is its body, `torch.is_autocast_enabled()` is False."
    CALLS = ("is_autocast_enabled",)
    STRIP = [
        ("class N:\n    def forward(self, x):\n        with maybe_autocast(device_type=x.device.type, enabled=False):\n"
         "            return f(x)\n", "class N:\n    def forward(self, x):\n        return f(x)\n"),
        ("def cast(device_type, *args):\n    if not torch.is_autocast_enabled():\n        return args\n    else:\n"
         "        return torch.amp.autocast_mode._cast(args, device_type, torch.get_autocast_dtype(device_type))\n",
         "def cast(device_type, *args):\n    return args\n"),
    ]
    KEEP = ["def f(x):\n    with torch.autocast('cuda', dtype=torch.bfloat16):\n        return g(x)\n",
            "def f(x):\n    with torch.no_grad():\n        return g(x)\n"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self._classes: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self._classes.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._classes.append(node.name.value)

    def leave_FunctionDef(self, original, updated):
        self._classes.pop()
        return super().leave_FunctionDef(original, updated)

    def leave_With(self, original, updated):
        if not updated.items or not all(_switches_off(item) for item in updated.items):
            return updated
        where = ".".join(self._classes[:2])  # Class.method (or a function's name): facts check it is reached
        if where and where not in self.ctx.autocast_off:
            self.ctx.autocast_off.append(where)
        self.ctx.removed[self.NAME] += 1  # the `with` line
        if type(updated.body) is not cst.IndentedBlock:  # `with ...: return f(x)` on one line
            return cst.SimpleStatementLine(updated.body.body)
        return cst.FlattenSentinel(updated.body.body)

    def leave_Module(self, original, updated):
        """`args = cast(device, x, w, b); return F.layer_norm(*args)` where cast now returns its *args: the call
        is its arguments (`F.layer_norm(x, w, b)`), as it computes with autocast off."""
        fixed = {s.name.value: len(s.params.params) for s in updated.body if type(s) is cst.FunctionDef
                 and _returns_its_star(s)}
        return updated.visit(_Unpacked(fixed)) if fixed else updated


def _returns_its_star(fn: cst.FunctionDef) -> bool:
    star = fn.params.star_arg
    if type(star) is not cst.Param or type(fn.body) is not cst.IndentedBlock or len(fn.body.body) != 1:
        return False
    line = fn.body.body[0]
    small = line.body[0] if type(line) is cst.SimpleStatementLine and len(line.body) == 1 else None
    return type(small) is cst.Return and type(small.value) is cst.Name and small.value.value == star.name.value


class _Unpacked(cst.CSTTransformer):
    def __init__(self, fixed: dict[str, int]):
        super().__init__()
        self.fixed = fixed

    def _passed(self, call) -> list[cst.Arg] | None:
        if type(call) is not cst.Call or type(call.func) is not cst.Name or call.func.value not in self.fixed:
            return None
        args = call.args[self.fixed[call.func.value]:]
        return None if any(a.keyword is not None or a.star for a in args) else list(args)

    def leave_IndentedBlock(self, original, updated):
        body, out, i = list(updated.body), [], 0
        while i < len(body):
            stmt, nxt = body[i], body[i + 1] if i + 1 < len(body) else None
            assign = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
            if (type(assign) is cst.Assign and len(assign.targets) == 1 and type(assign.targets[0].target) is cst.Name
                    and self._passed(assign.value) is not None and nxt is not None):
                name = assign.targets[0].target.value
                spread = _Spread(name, self._passed(assign.value))
                replaced = nxt.visit(spread)
                if spread.done == 1 and spread.other == 1:  # the one name read is the spread one
                    out.append(replaced)
                    i += 2
                    continue
            out.append(stmt)
            i += 1
        return updated.with_changes(body=out)


class _Spread(cst.CSTTransformer):
    """`g(*name)` → `g(a, b, c)`, counting the uses of name it replaced and the others."""

    def __init__(self, name: str, args: list[cst.Arg]):
        super().__init__()
        self.name, self.args, self.done, self.other = name, args, 0, 0

    def leave_Call(self, original, updated):
        new = []
        for a in updated.args:
            if a.star == "*" and type(a.value) is cst.Name and a.value.value == self.name:
                self.done += 1
                new += [x.with_changes(comma=cst.MaybeSentinel.DEFAULT) for x in self.args]
            else:
                new.append(a)
        return updated.with_changes(args=[x.with_changes(comma=cst.MaybeSentinel.DEFAULT) for x in new]) if self.done else updated

    def leave_Name(self, original, updated):
        if updated.value == self.name:
            self.other += 1
        return updated
