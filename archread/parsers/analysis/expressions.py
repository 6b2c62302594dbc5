"""Facts about expressions that moving one into another needs: where a read sits in evaluation order,
whether evaluating something changes anything, and how an expression is written in another's place.

Exact node types throughout: these run on every statement the inline pass looks at.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.fastcst import children, transform, walk

# calls that change what they are called on or the world; a trailing underscore is torch's in-place mark
_MUTATORS = frozenset({"register_buffer", "register_parameter", "add_module", "append", "extend", "insert", "update",
                       "pop", "popitem", "setdefault", "clear", "remove", "setattr", "delattr", "print", "manual_seed"})
_LAZY = (cst.Lambda, cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp, cst.FormattedString)
PRIMARY = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)  # need no brackets, even at the head of a chain
# written as they are anywhere an expression goes
ATOMS = (*PRIMARY, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
          cst.List, cst.Dict, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_WHOLE_SLOTS = (cst.Arg, cst.Element, cst.Index, cst.DictElement)  # hold a whole expression: no brackets needed
_PRECEDENCE = {cst.BitOr: 1, cst.BitXor: 2, cst.BitAnd: 3, cst.LeftShift: 4, cst.RightShift: 4, cst.Add: 5,
               cst.Subtract: 5, cst.Multiply: 6, cst.Divide: 6, cst.FloorDivide: 6, cst.Modulo: 6,
               cst.MatrixMultiply: 6, cst.Power: 8}
_UNARY = 7


def effect_free(*nodes: cst.CSTNode) -> bool:
    """No walrus, yield or await, and no call that mutates (`x.mul_(2)`, `self.register_buffer(...)`)."""
    for node in nodes:
        for n in walk(node):
            kind = type(n)
            if kind is cst.NamedExpr or kind is cst.Yield or kind is cst.Await:
                return False
            if kind is cst.Call:
                func = n.func
                name = func.attr.value if type(func) is cst.Attribute else func.value if type(func) is cst.Name else ""
                if name in _MUTATORS or (name.endswith("_") and not name.startswith("_")):
                    return False
    return True


def has_call(*nodes: cst.CSTNode) -> bool:
    return any(type(n) is cst.Call for node in nodes for n in walk(node))


def _before(parent: cst.CSTNode, child: cst.CSTNode) -> list | None:
    """What Python evaluates under parent before child; None where child runs lazily, conditionally or
    in an order not modelled here."""
    kind = type(parent)
    if kind is cst.Call:
        return _after_head(parent.func, parent.args, child)
    if kind is cst.BinaryOperation:
        return [] if child is parent.left else [parent.left]
    if kind is cst.Subscript:
        return _after_head(parent.value, parent.slice, child)
    if kind is cst.Slice:
        parts = [p for p in (parent.lower, parent.upper, parent.step) if p is not None]
        return parts[:parts.index(child)]
    if kind in (cst.Tuple, cst.List, cst.Set):
        elements = list(parent.elements)
        return elements[:elements.index(child)]
    if kind is cst.Comparison:
        if child is parent.left:
            return []
        return [parent.left] if child is parent.comparisons[0] else None  # `a < b < c`: c only if a < b
    if kind is cst.BooleanOperation:
        return [] if child is parent.left else None
    if kind is cst.IfExp:
        return [] if child is parent.test else None
    if kind in (cst.Arg, cst.Element, cst.StarredElement, cst.Index, cst.SubscriptElement, cst.ComparisonTarget,
                cst.UnaryOperation, cst.Attribute):
        return []
    return None


def _after_head(head: cst.CSTNode, items, child: cst.CSTNode) -> list:
    """`f(a, b)`, `x[a, b]`: the head, then the items in order."""
    if child is head:
        return []
    items = list(items)
    return [head, *items[:items.index(child)]]


def read_site(expr: cst.BaseExpression, name: str) -> tuple[list, list] | None:
    """(the nodes from expr down to its one read of name, what is evaluated before that read), when the
    read is sure to be evaluated, once, and in an order modelled here; else None."""
    path = _path(expr, name)
    if path is None:
        return None
    earlier = []
    for parent, child in zip(path, path[1:]):
        if type(parent) in _LAZY:
            return None
        found = _before(parent, child)
        if found is None:
            return None
        earlier += found
    return path, earlier


def _path(node: cst.CSTNode, name: str) -> list | None:
    if type(node) is cst.Name:
        return [node] if node.value == name else None
    for child in _children(node):
        found = _path(child, name)
        if found is not None:
            return [node, *found]
    return None


def _children(node: cst.CSTNode):
    """The expression children of node, leaving out names that are not reads (`.attr`, `key=`). In no
    particular order: _path looks for a name read once."""
    kind = type(node)
    if kind is cst.Attribute:
        return [node.value]
    if kind is cst.Arg:
        return [node.value]
    return children(node)


def placed(value: cst.BaseExpression, parent: cst.CSTNode | None, child: cst.CSTNode) -> cst.BaseExpression:
    """value written where child was, under parent (None: a whole statement's value), bracketed only
    where the grammar or precedence needs it."""
    if value.lpar or type(value) in ATOMS:
        return value
    if type(value) is cst.Tuple:
        return value if parent is None else _bracketed(value)
    if parent is None or type(parent) in _WHOLE_SLOTS:
        return value
    if type(parent) is cst.BinaryOperation:
        outer = _PRECEDENCE[type(parent.operator)]
        if type(value) is cst.BinaryOperation:
            inner = _PRECEDENCE[type(value.operator)]
            if inner > outer or (inner == outer and child is parent.left and outer != _PRECEDENCE[cst.Power]):
                return value
        elif type(value) is cst.UnaryOperation and outer < _UNARY:
            return value
    return _bracketed(value)


def _bracketed(value: cst.BaseExpression) -> cst.BaseExpression:
    return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def replaced(root: cst.BaseExpression, path: list, value: cst.BaseExpression) -> cst.BaseExpression:
    """root with the node at the end of path (from read_site) replaced by value."""
    if len(path) == 1:
        return placed(value, None, path[0])
    return _Replace(path, value).visit_root(root)


class _Replace(cst.CSTTransformer):
    def __init__(self, path: list, value: cst.BaseExpression):
        super().__init__()
        self.on_path = {id(n) for n in path}
        self.target, self.parent, self.value = path[-1], path[-2], value

    def visit_root(self, root):
        return transform(root, self)

    def on_visit(self, node) -> bool:
        return id(node) in self.on_path

    def on_leave(self, original, updated):
        if original is self.target:
            return placed(self.value, self.parent, original)
        return updated
