"""Small questions asked of `ast` nodes by every fact reader: dotted names, config fields, calls in order."""

from __future__ import annotations

import ast


def is_self(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def leaf(node) -> str:
    """The last part of a dotted callee: `nn.functional.silu` → silu."""
    return dotted(node).rsplit(".", 1)[-1]


def config_field(node) -> str | None:
    """config.X, self.config.X, getattr(config, "X", …) → X; a nested configuration's field too
    (`config.ffn_config.moe_top_k` → moe_top_k, which the configuration file's other class declares)."""
    if isinstance(node, ast.Attribute) and dotted(node.value) in ("config", "self.config"):
        return node.attr
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and dotted(node.value.value) in (
            "config", "self.config") and node.value.attr.endswith("_config"):
        return node.attr
    if (isinstance(node, ast.Call) and dotted(node.func) == "getattr" and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[1].value
    return None


_WALKS: dict[int, tuple[ast.AST, list[ast.AST]]] = {}  # id(node) -> (node, its nodes): facts ask of the same code often


def walk(node: ast.AST | None) -> list[ast.AST]:
    """ast.walk's nodes in ast.walk's order (breadth first), listed once per node and remembered."""
    if node is None:
        return []
    hit = _WALKS.get(id(node))
    if hit is None or hit[0] is not node:
        if len(_WALKS) > 4096:  # a long session diffs many files: keep the memo small
            _WALKS.clear()
        out = [node]
        for n in out:  # appended while iterated: breadth first
            for field in n._fields:
                value = getattr(n, field, None)
                if isinstance(value, list):
                    out.extend(v for v in value if isinstance(v, ast.AST))
                elif isinstance(value, ast.AST):
                    out.append(value)
        hit = _WALKS[id(node)] = (node, out)
    return hit[1]


def calls(node) -> list[ast.Call]:
    """Calls in source order."""
    found = [n for n in walk(node) if isinstance(n, ast.Call)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def names(node) -> set[str]:
    return {n.id if isinstance(n, ast.Name) else n.attr for n in walk(node) if isinstance(n, (ast.Name, ast.Attribute))}


def self_call_attr(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) and is_self(call.func.value) else None


def kwarg(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def passed(call: ast.Call, fn: ast.FunctionDef | None, name: str, implicit: int = 0):
    """What the call gives fn's parameter `name`, by keyword or by position (a reading passes `softcap=softcap`
    positionally); implicit: the leading parameters the call does not fill (a method's self)."""
    value = kwarg(call, name)
    params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)][implicit:] if fn else []
    if value is None and name in params and params.index(name) < len(call.args):
        value = call.args[params.index(name)]
    return None if isinstance(value, ast.Starred) else value


def param_default(fn: ast.FunctionDef | None, name: str):
    """The default of fn's parameter `name`, or None."""
    if fn is None:
        return None
    args = [*fn.args.posonlyargs, *fn.args.args]
    for arg, default in zip(args[len(args) - len(fn.args.defaults):], fn.args.defaults):
        if arg.arg == name:
            return default
    for arg, default in zip(fn.args.kwonlyargs, fn.args.kw_defaults):
        if arg.arg == name:
            return default
    return None


def line(node) -> int | None:
    return getattr(node, "lineno", None)


EMPTY = ast.Module(body=[], type_ignores=[])
