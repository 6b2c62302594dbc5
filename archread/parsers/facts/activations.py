"""The activation a feed-forward applies, in whichever form the code writes it.

`ACT2FN[config.hidden_act]` (the configuration's default), `ACT2FN[hidden_act]` through a parameter (what the
caller passed, else the parameter's default), `nn.GELU(approximate="tanh")`, `F.silu`, a local module or small
function read by its body (BLOOM's tanh formula), a config field the class sets itself (Gemma 4.41).
"""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.syntax import calls, config_field, dotted, is_self, leaf, param_default, passed, walk
from archread.parsers.facts.torch_api import ACT_CALLS, ACT_NAMES, act_of_body, act_of_call

ACT_TABLES = ("ACT2FN", "ACT2CLS", "get_activation", "ACTIVATION_FUNCTIONS", "get_act_fn")


def act_name(c: Code, expr, owner: str | None, built_by: ast.Call | None = None, depth: int = 0, caller: str | None = None):
    """(activation, where) an expression stands for, or None."""
    if expr is None or depth > 6:
        return None
    attrs = c.attrs(owner)
    if isinstance(expr, ast.Subscript) and dotted(expr.value) in ACT_TABLES:
        return _named(c, expr.slice, owner, built_by, depth, caller) or ("unknown", f"{ast.unparse(expr)}: no default")
    if isinstance(expr, ast.Subscript) and isinstance(c.globals.get(dotted(expr.value)), ast.Dict):
        return _module_table(c, expr, owner, built_by, depth, caller)  # GPT-1's ACT_FNS[config.afn]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Subscript) and dotted(expr.func.value) in ACT_TABLES:
        return act_name(c, expr.func, owner, built_by, depth + 1, caller)  # ACT2CLS["xielu"](dtype=...)
    if isinstance(expr, ast.Call):
        func = dotted(expr.func)
        if leaf(expr.func) in ACT_TABLES and expr.args:
            return _named(c, expr.args[0], owner, built_by, depth, caller) or ("unknown", f"{ast.unparse(expr)}: no default")
        if func in c.classes:
            found = body_act(c, c.classes[func])
            return (found, f"body of {func}") if found else None
        found = act_of_call(expr)
        if found:
            return found, leaf(expr.func)
        if func == "getattr" and len(expr.args) >= 2:  # getattr(F, "silu")
            return _named(c, expr.args[1], owner, built_by, depth, caller)
        return None
    if isinstance(expr, ast.Attribute) and is_self(expr.value) and expr.attr in attrs:
        return act_name(c, attrs[expr.attr], owner, built_by, depth + 1, caller)
    if isinstance(expr, ast.Name):
        if f"local:{expr.id}" in attrs:
            return act_name(c, attrs[f"local:{expr.id}"], owner, built_by, depth + 1, caller)
        if expr.id in c.functions:
            found = body_act(c, c.functions[expr.id])
            return (found, f"body of {expr.id}") if found else None
    if isinstance(expr, (ast.Attribute, ast.Name)) and leaf(expr) in ACT_CALLS and not config_field(expr):
        return ACT_CALLS[leaf(expr)], dotted(expr)
    if config_field(expr):
        return _named(c, expr, owner, built_by, depth, caller)
    return None


def _module_table(c: Code, expr: ast.Subscript, owner, built_by, depth, caller):
    """A module's own table of activations, looked up by the key's value: the entry's activation, else its name."""
    key = _named(c, expr.slice, owner, built_by, depth, caller)
    table = c.globals[dotted(expr.value)]
    for k, v in zip(table.keys, table.values):
        if isinstance(k, ast.Constant) and key is not None and ACT_NAMES.get(k.value, k.value) == key[0]:
            found = act_name(c, v, owner, None, depth + 1, caller)
            named = ACT_NAMES.get(dotted(v).rsplit(".", 1)[-1]) if dotted(v) else None
            return found or ((named, f"{ast.unparse(expr)} → {dotted(v)}") if named else None)
    return None


def _named(c: Code, key, owner, built_by, depth, caller=None):
    """An activation table's key: a literal, a config field's default, a parameter's value."""
    attrs = c.attrs(owner)
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return ACT_NAMES.get(key.value, key.value), "literal"
    if isinstance(key, ast.Call) and isinstance(key.func, ast.Attribute) and key.func.attr == "get" and key.args:
        table = c.config_value(key.func.value) if config_field(key.func.value) else None
        inner = key.args[0].value if isinstance(key.args[0], ast.Constant) else None
        if isinstance(table, dict) and inner in table and isinstance(table[inner], str):
            return ACT_NAMES.get(table[inner], table[inner]), f"config.{config_field(key.func.value)}"
        return _named(c, key.args[1], owner, built_by, depth, caller) if len(key.args) > 1 else None
    field = config_field(key)
    if field:
        set_here = attrs.get(f"config:{field}")
        if isinstance(set_here, ast.Constant) and isinstance(set_here.value, str):
            return ACT_NAMES.get(set_here.value, set_here.value), f"config.{field} set in {owner}"
        if field in c.config and isinstance(c.config[field].value, str):
            value = c.config[field].value
            return ACT_NAMES.get(value, value), f"config.{field} = {value!r} ({c.config[field].where})"
        return None
    if isinstance(key, ast.Attribute) and is_self(key.value) and key.attr in attrs:
        return _named(c, attrs[key.attr], owner, built_by, depth + 1, caller)
    if isinstance(key, ast.Name):
        if f"local:{key.id}" in attrs:
            return _named(c, attrs[f"local:{key.id}"], owner, built_by, depth + 1, caller)
        init = c.method(owner, "__init__")
        given = passed(built_by, init, key.id, implicit=1) if built_by is not None else None
        if given is not None:
            return _named(c, given, caller, None, depth + 1)
        default = param_default(init, key.id)
        if default is not None:
            return _named(c, default, owner, None, depth + 1, caller)
    return None


def unknown() -> Fact:
    return Fact("mlp.activation", "unknown", None, "no activation resolved")


def body_act(c: Code, node, depth: int = 0, owner: str | None = None):
    """act_of_body through what the body calls here: BloomGelu → GeLUFunction.apply → bloom_gelu_forward.
    `owner`: the class a method belongs to, whose `self.X` the body reads as their configuration defaults."""
    attrs = c.attrs(owner) if owner else {}
    values = tuple(c.config_value(attrs[n.attr]) for n in walk(node) if isinstance(n, ast.Attribute)
                   and is_self(n.value) and n.attr in attrs)
    found = act_of_body(node, values)
    if found or depth > 3:
        return found
    for call in calls(node):
        name = dotted(call.func)
        target = c.functions.get(name) or c.classes.get(name) or c.classes.get(name.rsplit(".", 1)[0])
        if target is not None and target is not node:
            found = body_act(c, target, depth + 1)
            if found:
                return found
    return None
