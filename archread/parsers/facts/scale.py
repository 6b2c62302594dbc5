"""An attention scale read by its value: `1/math.sqrt(head_dim)`, `head_dim**-0.5` and `/ math.sqrt(d)` all mean
the default 1/√head_dim; anything else (a constant, a config scalar) is custom."""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.syntax import config_field, dotted, is_self, leaf, walk

HEAD_SIZE = {"head_dim", "head_size", "attention_head_size", "kv_channels", "hidden_size_per_attention_head",
             "head_features", "qk_head_dim", "d_head"}
WIDTHS = {"hidden_size", "d_model", "n_embd", "embed_dim", "dim", "hidden_dim"}
# archread's prelude functions that return their scale argument unchanged under the default RoPE (MLA's YaRN
# mscale² applies only when the configuration names a scaled RoPE): the argument's index
PASS_THROUGH = {"yarn_apply_mscale": 1}
HEADS = {"num_attention_heads", "num_heads", "n_head", "n_heads", "num_attention_heads_per_partition"}


def head_power(c: Code, expr: ast.expr | None, owner: str | None, depth: int = 0) -> float | None:
    """The power of head_dim an expression is (√head_dim → 0.5, 1/√head_dim → -0.5), or None if it is not one."""
    if expr is None or depth > 8:
        return None
    if _number(expr) is not None:
        return 0.0 if _number(expr) == 1 else None  # scaling=1.0: no scale here
    if isinstance(expr, ast.Attribute) and is_self(expr.value):
        target = c.attrs(owner).get(expr.attr)
        found = head_power(c, target, owner, depth + 1) if target is not None else None
        return found if found is not None else 1.0 if expr.attr in HEAD_SIZE else None
    if isinstance(expr, ast.Name):
        target = c.attrs(owner).get(f"local:{expr.id}")
        if target is not None:
            return head_power(c, target, owner, depth + 1)
        return 1.0 if expr.id in HEAD_SIZE else None
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):  # config.head_dim or hidden // heads
        found = [head_power(c, v, owner, depth + 1) for v in expr.values]
        return next((f for f in found if f is not None), None)
    field = config_field(expr)
    if field:
        return 1.0 if field in HEAD_SIZE else None
    if isinstance(expr, ast.Call):
        if leaf(expr.func) == "sqrt" and expr.args:
            inner = head_power(c, expr.args[0], owner, depth + 1)
            return None if inner is None else inner / 2
        if dotted(expr.func) in PASS_THROUGH and len(expr.args) > PASS_THROUGH[dotted(expr.func)]:
            return head_power(c, expr.args[PASS_THROUGH[dotted(expr.func)]], owner, depth + 1)
        if dotted(expr.func) in ("int", "float") and expr.args:
            return head_power(c, expr.args[0], owner, depth + 1)
        return None
    if isinstance(expr, ast.BinOp):
        if isinstance(expr.op, ast.Pow) and isinstance(expr.right, (ast.Constant, ast.UnaryOp)):
            exponent = _number(expr.right)
            inner = head_power(c, expr.left, owner, depth + 1)
            return None if inner is None or exponent is None else inner * exponent
        if isinstance(expr.op, (ast.Div, ast.FloorDiv)):
            if _number(expr.left) == 1:
                inner = head_power(c, expr.right, owner, depth + 1)
                return None if inner is None else -inner
            if _width(expr.left) and _heads(expr.right):
                return 1.0  # hidden_size // num_heads is the head size
    return None


def _number(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _width(node) -> bool:
    return any(isinstance(n, (ast.Attribute, ast.Name)) and (getattr(n, "attr", None) or getattr(n, "id", None)) in WIDTHS
               for n in walk(node))


def _heads(node) -> bool:
    return any(isinstance(n, (ast.Attribute, ast.Name)) and (getattr(n, "attr", None) or getattr(n, "id", None)) in HEADS
               for n in walk(node))
