"""Which calls a method makes on the path its defaults take: the branch an `if` rules out is left out."""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.syntax import config_field, dotted, is_self, param_default


def live_calls(c: Code, fn: ast.FunctionDef, cls: str) -> list[ast.Call]:
    """fn's calls, leaving out the branch of an `if` its defaults rule out: GPT-2's cross-attention
    (`if self.is_cross_attention:`, set from a parameter that defaults to False)."""
    init = c.method(cls, "__init__")

    def ruled_out(test) -> bool:
        if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and len(test.ops) == 1
                and isinstance(test.ops[0], ast.IsNot) and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value is None):  # `if encoder_hidden_states is not None:`, its default None
            default = param_default(fn, test.left.id)
            return isinstance(default, ast.Constant) and default.value is None
        if isinstance(test, ast.Attribute) and is_self(test.value):
            given = c.attrs(cls).get(test.attr)
            if isinstance(given, ast.Name):
                default = param_default(init, given.id)
                return isinstance(default, ast.Constant) and default.value in (False, None)
            if given is not None and config_field(given) and c.default(config_field(given)):
                return c.default(config_field(given)).value in (False, None)  # config.reorder_and_upcast_attn
        return False

    out: list[ast.Call] = []

    def visit(node):
        if isinstance(node, ast.If) and ruled_out(node.test):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, ast.Call):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(fn)
    return out


def reached_calls(c: Code, cls: str, start: str = "forward", depth: int = 3) -> list[ast.Call]:
    """The calls cls's `start` method makes on its defaults' path, through the methods of self and the module
    functions it calls (GPT-2 4.x: forward → self._attn → softmax, not self._upcast_and_reordered_attn)."""
    method = c.method(cls, start)
    todo, seen, out = [method] if method else [], set(), []
    for _ in range(depth):
        nxt = []
        for fn in todo:
            for call in live_calls(c, fn, cls):
                out.append(call)
                name = dotted(call.func)
                target = c.method(cls, name[5:]) if name.startswith("self.") else c.functions.get(name)
                if target is not None and id(target) not in seen:
                    seen.add(id(target))
                    nxt.append(target)
        todo = nxt
    return out
