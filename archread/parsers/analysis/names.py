"""What a node reads and binds: name counts, bound names, the names a module-level statement defines.

Each is remembered inside a reduction (`fastcst.remembered`): read the result, never change it."""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.nodes import only_small
from archread.parsers.fastcst import is_node, node_fields, remembered, walk


def name_counts(node: cst.CSTNode) -> Counter:
    """How often each bare Name is read or written under node (attribute and keyword names excluded); shared
    inside a reduction (`remembered`): read it, never change it."""
    return remembered("name_counts", node, lambda: _name_counts(node))


def _name_counts(node: cst.CSTNode) -> Counter:
    """Its own walk, not `walk`: it need not stop at every node."""
    found: dict[str, int] = {}
    stack = [node]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, found.get
    name, attribute, arg, node_type = cst.Name, cst.Attribute, cst.Arg, is_node
    while stack:
        current = pop()
        kind = type(current)
        if kind is name:
            found[current.value] = get(current.value, 0) + 1
        elif kind is attribute or kind is arg:  # `x.attr`, `f(keyword=x)`: only x is a name here
            push(current.value)
        else:
            for field in node_fields(kind):
                value = getattr(current, field)
                vkind = type(value)
                if vkind is list or vkind is tuple:
                    extend(value)
                elif node_type(vkind):
                    push(value)
    return Counter(found)


def names_in(node: cst.CSTNode) -> frozenset[str]:
    return remembered("names_in", node, lambda: frozenset(name_counts(node)))


_BINDERS = {cst.AssignTarget: "target", cst.AugAssign: "target", cst.AnnAssign: "target", cst.For: "target",
             cst.CompFor: "target", cst.WithItem: "asname", cst.NamedExpr: "target"}


def bound_names(body: cst.CSTNode) -> Counter:
    """How often each name is bound: assignments, augmented assignments, loop, `with … as` and walrus targets;
    shared inside a reduction (`remembered`): read it, never change it."""
    return remembered("bound_names", body, lambda: _bound_names(body))


def _bound_names(body: cst.CSTNode) -> Counter:
    stores: Counter = Counter()
    for node in walk(body):
        field = _BINDERS.get(type(node))
        target = getattr(node, field) if field else None
        if target is not None:
            stores.update(_bound_by(target))
    return stores


def _bound_by(target: cst.CSTNode):
    """The names a target binds: `x`, `x, *y`; not `self.x` nor `d[i]`, which store into objects."""
    kind = type(target)
    if kind is cst.Name:
        yield target.value
    elif kind in (cst.Tuple, cst.List):
        for element in target.elements:
            yield from _bound_by(element.value)
    elif kind is cst.AsName:
        yield from _bound_by(target.name)


_TOP_BLOCKS = (cst.If, cst.Try)


def bound_at_top(stmt: cst.CSTNode) -> dict[str, cst.CSTNode | None]:
    """Names a module-level statement binds -> the import alias that binds it (None for a definition);
    an `if`/`try` block (`if is_x_available(): from x import f`) binds what its statements bind."""
    kind = type(stmt)
    if kind in (cst.ClassDef, cst.FunctionDef):
        return {stmt.name.value: None}
    if kind in _TOP_BLOCKS:
        found = {}
        blocks = [stmt.body, getattr(stmt, "orelse", None), *getattr(stmt, "handlers", ())]
        for block in blocks:
            inner = getattr(block, "body", None)
            for s in getattr(inner, "body", ()) if inner is not None else ():
                found.update(dict.fromkeys(bound_at_top(s)))  # the whole block defines them
        return found
    found = {}
    for small in getattr(stmt, "body", ()) if kind is cst.SimpleStatementLine else ():
        if type(small) in (cst.Import, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                bound = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                found[bound] = alias
        elif type(small) is cst.Assign:
            found.update(dict.fromkeys(n for t in small.targets for n in _bound_by(t.target)))
        elif type(small) is cst.AnnAssign:
            found.update(dict.fromkeys(_bound_by(small.target)))
    return found


def ids_under(node: cst.CSTNode) -> frozenset[int]:
    """The ids of node and of every node under it (layout left out), remembered."""
    return remembered("ids", node, lambda: frozenset(map(id, walk(node))))


def read_on_entry(name: str, statements) -> bool:
    """Whether a function reads the value its parameter `name` came in with (not only a value it assigns first).
    statements: (statement, the names it holds) of the body, in order."""
    for stmt, names in statements:
        small = only_small(stmt)
        if type(small) is cst.Assign and name not in names_in(small.value) and any(
                name in _bound_by(t.target) for t in small.targets):
            return False  # `name = ...` or `name, other = ...` not reading it: the value it came in with is gone
        if name in names:
            return True
    return False


def other_binders(node: cst.CSTNode) -> set[str]:
    """Names bound otherwise than by an assignment: parameters, definitions, imports, `global`/`nonlocal`,
    `except … as`, `del` — any of them makes a name no constant (or a different variable where it is read)."""
    found = set()
    for n in walk(node):
        kind = type(n)
        if kind in (cst.Param, cst.FunctionDef, cst.ClassDef):
            found.add(n.name.value)
        elif kind in (cst.Global, cst.Nonlocal):
            found.update(g.name.value for g in n.names)
        elif kind is cst.ExceptHandler and n.name is not None and type(n.name.name) is cst.Name:
            found.add(n.name.name.value)
        elif kind in (cst.Import, cst.ImportFrom) and not isinstance(n.names, cst.ImportStar):
            found.update(a.evaluated_alias or a.evaluated_name.split(".")[0] for a in n.names)
        elif kind is cst.Del:
            found.update(x.value for x in walk(n.target) if type(x) is cst.Name)
    return found
