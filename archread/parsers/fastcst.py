"""libcst's operations as archread uses them, with the same results and without the bookkeeping archread
never reads.

- transform(node, transformer) is `node.visit(transformer)`: libcst rebuilds and revalidates every node
  it passes, changed or not, and looks up each hook by a formatted name for every node and every field;
  here a node is rebuilt only where a child changed and hooks are looked up once per node type. The hooks
  run in libcst's order: a node's fields are visited in the order its own `_visit_and_replace_children`
  rebuilds them (read from that function's keyword names). Per-field hooks (`visit_Call_func`) are not
  called: no archread pass defines one. A leaf no hook reads (whitespace, a comment: half the nodes) is not
  visited; a transformer that overrides libcst's dispatch says which node types it hooks by `has_hooks`.
- code_of(node) is `Module.code_for_node(node)`: libcst opens a generator-based context manager around
  most nodes it writes, to record positions for its metadata, which were a third of generating code.
- walk(node) yields the nodes under node from their dataclass fields, for analyses that read and do not
  rebuild; layout (whitespace, punctuation) only when asked. children(node) are the nodes one level down.
  Inside `remembering()` (a whole reduction) each statement is read once: the passes walk the same
  unchanged functions again and again, and this was an eighth of a reduction's instructions. There too,
  `remembered` keeps any other fact a node alone decides (its names, its height), for every pass.

Kept facts (`remembering`) are per thread. The parse without validation and the faster writers of brackets
and with_changes replace libcst's own methods: they are in `libcst_patches.py`, in place only inside its
`speedups()`.

tests/test_fastcst.py holds each to libcst's own result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Optional, Union

import libcst as cst
from libcst._nodes.internal import CodegenState

_IS_NODE: dict[type, bool] = {}  # CSTNode is an ABC: isinstance on it is slow, a type lookup is not
_REMOVE = cst.RemovalSentinel.REMOVE
_ORDER: dict[type, tuple[str, ...] | None] = {}
_UNREAD = object()
_EMPTY_IF_REMOVED: dict[tuple[type, str], object] = {}
_HOOKS: dict[tuple[type, str, type], object] = {}
_PLAIN = (str, bool, Optional[str], Union[str, cst.MaybeSentinel])  # field types that never hold a node


def is_node(kind: type) -> bool:
    found = _IS_NODE.get(kind)
    if found is None:
        found = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return found


def _order(kind: type) -> tuple[str, ...] | None:
    """The fields of kind in the order libcst visits them, none for a leaf; None where that order cannot be
    read, and libcst itself visits the node."""
    fields = {f.name for f in dataclasses.fields(kind)}
    plain = {f.name for f in dataclasses.fields(kind) if f.type in _PLAIN}
    code = kind._visit_and_replace_children.__code__
    found = [c for c in code.co_consts if type(c) is tuple and set(c) == fields]
    leaf = not any(name.startswith("visit_") for name in code.co_names)  # `return self`: whitespace, comments
    order = tuple(n for n in found[0] if n not in plain) if len(found) == 1 else () if leaf else None
    _ORDER[kind] = order
    return order


def _removed_field(kind: type, name: str):
    """What an optional field holds once its node is removed (None or MaybeSentinel.DEFAULT, its default);
    a required field cannot lose its node."""
    key = (kind, name)
    if key not in _EMPTY_IF_REMOVED:
        default = next(f.default for f in dataclasses.fields(kind) if f.name == name)
        _EMPTY_IF_REMOVED[key] = default if default is None or default is cst.MaybeSentinel.DEFAULT else _REMOVE
    empty = _EMPTY_IF_REMOVED[key]
    if empty is _REMOVE:
        raise TypeError(f"{kind.__name__}.{name} cannot be removed")
    return empty


def hook(transformer, prefix: str, kind: type):
    """The unbound visit_/leave_ method of this node type, or None."""
    key = (type(transformer), prefix, kind)
    found = _HOOKS.get(key, False)
    if found is False:
        found = _HOOKS[key] = getattr(type(transformer), f"{prefix}_{kind.__name__}", None)
    return found


def _entries(transformer):
    """(on_visit, on_leave) of transformer: its own where it overrides libcst's, else a cached hook lookup."""
    kind = type(transformer)

    def on_visit(node):
        visit = hook(transformer, "visit", type(node))
        return visit is None or visit(transformer, node) is not False

    def on_leave(original, updated):
        leave = hook(transformer, "leave", type(original))
        return updated if leave is None else leave(transformer, original, updated)

    own = cst.CSTTransformer
    return (on_visit if kind.on_visit is own.on_visit else transformer.on_visit,
            on_leave if kind.on_leave is own.on_leave else transformer.on_leave)


def _hooked(transformer):
    """kind -> whether visiting a node of that kind may run any of transformer's code: its `has_hooks` where
    it says (a chain of passes), else its visit_/leave_ methods unless it overrides libcst's dispatch."""
    says = getattr(transformer, "has_hooks", None)
    if says is not None:
        return says
    kind, own = type(transformer), cst.CSTTransformer
    if kind.on_visit is not own.on_visit or kind.on_leave is not own.on_leave:
        return lambda node_kind: True
    return lambda node_kind: hook(transformer, "visit", node_kind) is not None or hook(transformer, "leave", node_kind) is not None


def transform(node: cst.CSTNode, transformer: cst.CSTTransformer):
    """node.visit(transformer), without rebuilding what did not change."""
    on_visit, on_leave = _entries(transformer)
    orders, nodes, hooked, silent = _ORDER, _IS_NODE, _hooked(transformer), {}

    def quiet(kind) -> bool:
        """A leaf (whitespace, a comment) no hook reads: visiting it changes nothing."""
        found = silent.get(kind)
        if found is None:
            order = orders.get(kind, _UNREAD)
            found = silent[kind] = (_order(kind) if order is _UNREAD else order) == () and not hooked(kind)
        return found

    def visit(node):
        kind = type(node)
        if not on_visit(node):
            return on_leave(node, node)
        order = orders.get(kind, _UNREAD)
        if order is _UNREAD:
            order = _order(kind)
        if order is None:  # a node type this reading does not know: libcst rebuilds it
            return on_leave(node, node._visit_and_replace_children(transformer))
        changes = None
        for name in order:
            value = getattr(node, name)
            vkind = type(value)
            if vkind is tuple or vkind is list:
                new = _sequence(value, visit)
                if new is not value or vkind is list:  # libcst hands every sequence on as a tuple
                    changes = changes or {}
                    changes[name] = tuple(new)
            elif (nodes.get(vkind) or (vkind not in nodes and is_node(vkind))) and not quiet(vkind):
                result = visit(value)
                if result is not value:
                    if result is _REMOVE:
                        result = _removed_field(kind, name)
                    elif type(result) is cst.FlattenSentinel:
                        raise TypeError(f"{kind.__name__}.{name} cannot hold a sequence")
                    changes = changes or {}
                    changes[name] = result
        return on_leave(node, node.with_changes(**changes) if changes else node)

    return visit(node)


def _sequence(children, visit):
    """The visited children, removals dropped and flattenings spliced in; children itself if none changed. As
    libcst does, a statement line emptied by its children's removal goes too."""
    new = None
    for i, child in enumerate(children):
        result = visit(child)
        if result is child and new is None:
            continue
        if new is None:
            new = list(children[:i])
        if result is _REMOVE:
            continue
        for item in (result.nodes if type(result) is cst.FlattenSentinel else (result,)):
            if type(item) is cst.SimpleStatementLine and not item.body and not child._is_removable():
                continue
            new.append(item)
    return children if new is None else new


_FIELDS: dict[bool, dict[type, tuple[str, ...]]] = {False: {}, True: {}}  # layout -> node type -> fields
# fields that hold only layout (whitespace, comments, brackets, separators): a third of the tree, read by no
# analysis; walk skips them unless asked for layout
_LAYOUT = frozenset({"lpar", "rpar", "comma", "dot", "equal", "colon", "semicolon", "lbracket", "rbracket",
                     "lbrace", "rbrace", "leading_lines", "lines_after_decorators", "header", "footer", "newline",
                     "trailing_whitespace"})


def _fields(kind: type, layout: bool) -> tuple[str, ...]:
    """The fields walk reads, last first (it stacks them)."""
    names = tuple(f.name for f in dataclasses.fields(kind) if f.type not in _PLAIN)
    if not layout:
        names = tuple(n for n in names if n not in _LAYOUT and not n.startswith("whitespace"))
    _FIELDS[layout][kind] = names[::-1]
    return names[::-1]


def node_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold nodes, layout left out, last first: for walks of their own."""
    fields = _FIELDS[False].get(kind)
    return fields if fields is not None else _fields(kind, False)


def walk(node: cst.CSTNode, layout: bool = False):
    """Every node under node, depth first, read straight from the dataclass fields (far cheaper than a visitor).
    Whitespace, comments and punctuation only with `layout`. A list or tuple field holds only nodes. Inside
    `remembering()`, what is read is kept (see there)."""
    kept = _THREAD.kept
    if layout or kept is None:
        return _walk(node, layout)
    return iter(_kept(node, kept))


def _walk(node: cst.CSTNode, layout: bool):
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    fields_of, node_type = _FIELDS[layout], is_node
    while stack:
        current = pop()
        yield current
        kind = type(current)
        fields = fields_of.get(kind)
        if fields is None:
            fields = _fields(kind, layout)
        for name in fields:  # last field first, each list reversed: the first child is popped first
            value = getattr(current, name)
            vkind = type(value)
            if vkind is list or vkind is tuple:
                if value:
                    extend(reversed(value))
            elif node_type(vkind):
                push(value)


class _Thread(threading.local):
    kept: dict | None = None  # while remembering: id(node) -> (node, the nodes walk gives); (fact, id) -> (node, fact)
    parsing = False  # parse_module's nodes skip validation (only where `speedups` is on)


_THREAD = _Thread()
_STATEMENT: dict[type, bool] = {}


@contextlib.contextmanager
def remembering():
    """Walks keep what they read, for the length of the block: a tree is never changed, only rebuilt around
    what did not change, so the passes' many walks over the same functions and statements (a reduction reads
    each node some ten times) read each statement once. Kept by identity, the node held so its id stays its."""
    outer = _THREAD.kept
    _THREAD.kept = {} if outer is None else outer
    try:
        yield
    finally:
        _THREAD.kept = outer


def remembered(fact: str, node: cst.CSTNode, compute):
    """compute(), a fact about node that only node decides (its names, its height), kept inside `remembering()`
    for the next pass that asks: nodes never change, so neither do their facts."""
    kept = _THREAD.kept
    if kept is None:
        return compute()
    key = (fact, id(node))
    hit = kept.get(key)
    if hit is None or hit[0] is not node:
        hit = kept[key] = (node, compute())
    return hit[1]


def _kept(node: cst.CSTNode, kept: dict) -> list:
    """walk(node) as a list: each statement below read from what is kept of it, or read and kept."""
    hit = kept.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    found, stack = [], [node]
    pop, push, extend, add, grow = stack.pop, stack.append, stack.extend, found.append, found.extend
    fields_of, node_type, statement = _FIELDS[False], is_node, _STATEMENT
    while stack:
        current = pop()
        kind = type(current)
        if current is not node:
            whole = statement.get(kind)
            if whole is None:
                whole = statement[kind] = issubclass(kind, (cst.BaseStatement, cst.BaseSmallStatement))
            if whole:
                grow(_kept(current, kept))
                continue
        add(current)
        fields = fields_of.get(kind)
        if fields is None:
            fields = _fields(kind, False)
        for name in fields:
            value = getattr(current, name)
            vkind = type(value)
            if vkind is list or vkind is tuple:
                if value:
                    extend(reversed(value))
            elif node_type(vkind):
                push(value)
    kept[id(node)] = (node, found)
    return found


def children(node: cst.CSTNode) -> list:
    """The nodes directly under node, layout left out (libcst's `children` runs a visitor over node)."""
    kind = type(node)
    fields = _FIELDS[False].get(kind)
    if fields is None:
        fields = _fields(kind, False)
    found = []
    for name in reversed(fields):
        value = getattr(node, name)
        if type(value) is list or type(value) is tuple:
            found += value
        elif is_node(type(value)):
            found.append(value)
    return found


_NO_POSITIONS = contextlib.nullcontext()


class _State(CodegenState):
    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _NO_POSITIONS


def code_of(node: cst.CSTNode) -> str:
    """The code of node, as `Module.code_for_node` writes it (a module's own indent and newline; four spaces
    and "\\n" for any other node)."""
    indent, newline = (node.default_indent, node.default_newline) if type(node) is cst.Module else ("    ", "\n")
    state = _State(default_indent=indent, default_newline=newline)
    node._codegen(state)
    return "".join(state.tokens)
