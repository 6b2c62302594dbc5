"""Evaluate small constant expressions in the CST: literals, comparisons, and/or/not."""

from __future__ import annotations

import ast
import operator
from typing import Callable

import libcst as cst

from archread.parsers.fastcst import code_of

UNKNOWN = object()
COMPARE = {
    cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le, cst.GreaterThan: operator.gt, cst.GreaterThanEqual: operator.ge,
    cst.Is: operator.is_, cst.IsNot: operator.is_not,
    cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
}


def literal_value(node: cst.CSTNode) -> object:
    """The Python value of a literal expression (True, None, 3, 'eager', ('a', 'b')), else UNKNOWN."""
    if isinstance(node, cst.Name):
        return {"True": True, "False": False, "None": None}.get(node.value, UNKNOWN)
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.Tuple, cst.List, cst.Set)):
        try:
            return ast.literal_eval(code_of(node))
        except (ValueError, SyntaxError):
            return UNKNOWN
    return UNKNOWN


def compare(node: cst.Comparison, value: Callable[[cst.CSTNode], object]) -> object:
    left = value(node.left)
    result = True
    for target in node.comparisons:
        right = value(target.comparator)
        op = COMPARE.get(type(target.operator))
        if left is UNKNOWN or right is UNKNOWN or op is None:
            return UNKNOWN
        try:
            result = result and op(left, right)
        except TypeError:
            return UNKNOWN
        left = right
    return bool(result)


def evaluate(node: cst.CSTNode, leaf: Callable[[cst.CSTNode], object]) -> object:
    """Value of node where `leaf` knows the value of names/attributes/calls (or UNKNOWN)."""
    known = leaf(node)
    if known is not UNKNOWN:
        return known
    if isinstance(node, cst.Comparison):
        return compare(node, lambda n: evaluate(n, leaf))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        inner = evaluate(node.expression, leaf)
        return UNKNOWN if inner is UNKNOWN else not inner
    if isinstance(node, cst.BooleanOperation):
        left = evaluate(node.left, leaf)
        is_and = isinstance(node.operator, cst.And)
        if left is not UNKNOWN and bool(left) != is_and:
            return left
        right = evaluate(node.right, leaf)
        if left is not UNKNOWN:
            return right
        if right is not UNKNOWN and bool(right) != is_and:
            return right
        return UNKNOWN
    return literal_value(node)
