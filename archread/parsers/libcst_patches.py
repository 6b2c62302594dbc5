"""archread's replacements of libcst methods, in place only inside `speedups()` (a reduction).

- parse_module(text): libcst validates every node it builds; the parser's own output needs no checking
  (libcst's source says as much), and that was a fifth of parsing. The skipped validation is a per-thread
  switch: another thread building nodes meanwhile still validates.
- Parentheses and brackets are written by generator-based context managers in libcst: replaced, for every
  writer, by a plain one that does the same.
- with_changes is libcst's (replace the fields, validate the new node) without `dataclasses.replace`'s
  generic field walk, as nodes are rebuilt by the ten thousand.

Each replacement is checked when applied that the method it replaces is the one it was written against (the
same compiled code), else libcst's own stays and a warning says so. tests/test_fastcst.py holds each to
libcst's own result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import warnings

import libcst as cst
from libcst._nodes import expression as cst_expression
from libcst._nodes.base import CSTNode

from archread.parsers.fastcst import _THREAD


def parse_module(text: str) -> cst.Module:
    """cst.parse_module(text), its nodes unvalidated inside `speedups()`: a parse builds only valid ones."""
    _THREAD.parsing = True
    try:
        return cst.parse_module(text)
    finally:
        _THREAD.parsing = False


def _post_init(node) -> None:
    """libcst's `CSTNode.__post_init__` (validate), skipped while this thread parses."""
    if not _THREAD.parsing:
        node._validate()


class _Around:
    """libcst's `_parenthesize`, `_bracketize` and `_braceize` as a plain context manager, doing what theirs do
    (theirs are generators: a frame and a wrapper object for every expression written)."""

    __slots__ = ("node", "before", "after", "state", "recorded")

    def __init__(self, node, before, after, state, position: bool):
        self.node, self.before, self.after, self.state = node, before, after, state
        self.recorded = state.record_syntactic_position(node) if position else None  # only parentheses record one

    def __enter__(self):
        for token in self.before:
            token._codegen(self.state)
        if self.recorded is not None:
            self.recorded.__enter__()

    def __exit__(self, *exc):
        if self.recorded is not None:
            self.recorded.__exit__(*exc)
        if exc[0] is None:  # as a generator would: an error inside ends the writing
            for token in self.after:
                token._codegen(self.state)


def _parenthesize(node, state):
    return _Around(node, node.lpar, node.rpar, state, True)


def _bracketize(node, state):
    return _Around(node, (node.lbracket,), (node.rbracket,), state, False)


def _braceize(node, state):
    return _Around(node, (node.lbrace,), (node.rbrace,), state, False)


def _with_changes(node, **changes):
    """libcst's `with_changes` (`dataclasses.replace`, then validation) without replace's generic field walk."""
    kind = type(node)
    fields = _INIT_FIELDS.get(kind)
    if fields is None:
        names = tuple(f.name for f in dataclasses.fields(kind))
        fields = _INIT_FIELDS[kind] = (names, frozenset(names))
    if not changes.keys() <= fields[1]:
        raise TypeError(f"{kind.__name__} has no field {sorted(changes.keys() - fields[1])[0]}")
    new = object.__new__(kind)
    for name in fields[0]:
        _set(new, name, changes[name] if name in changes else getattr(node, name))
    new.__post_init__()
    return new


_INIT_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}  # the fields in order, and as a set
_set = object.__setattr__


# What each replacement was written against: libcst 1.x's method, the same statements (compared as compiled code)
def _libcst_parenthesize(self, state):
    for lpar in self.lpar:
        lpar._codegen(state)
    with state.record_syntactic_position(self):
        yield
    for rpar in self.rpar:
        rpar._codegen(state)


def _libcst_bracketize(self, state):
    self.lbracket._codegen(state)
    yield
    self.rbracket._codegen(state)


def _libcst_braceize(self, state):
    self.lbrace._codegen(state)
    yield
    self.rbrace._codegen(state)


def _libcst_with_changes(self, **changes):
    return replace(self, **changes)  # noqa: F821 (compiled for comparison only: libcst's global)


def _libcst_post_init(self):
    self._validate()


_PATCHES = [  # (class, method, what it must be, archread's)
    (cst_expression._BaseParenthesizedNode, "_parenthesize", _libcst_parenthesize, _parenthesize),
    (cst_expression.BaseList, "_bracketize", _libcst_bracketize, _bracketize),
    (cst_expression._BaseSetOrDict, "_braceize", _libcst_braceize, _braceize),
    (CSTNode, "with_changes", _libcst_with_changes, _with_changes),
    (CSTNode, "__post_init__", _libcst_post_init, _post_init),
]
_LOCK = threading.Lock()
_ACTIVE = [0, []]  # reductions inside speedups(), the (class, method, libcst's) replaced for them


def _as_written(found, expected) -> bool:
    """Whether libcst's method is the one the replacement was written against: the same compiled statements
    (a `@contextmanager` unwrapped), names and locals; `replace` being dataclasses'."""
    fn = getattr(found, "__wrapped__", found)
    code, want = getattr(fn, "__code__", None), expected.__code__
    if code is None or (code.co_code, code.co_names, code.co_varnames) != (want.co_code, want.co_names, want.co_varnames):
        return False
    return "replace" not in code.co_names or fn.__globals__.get("replace") is dataclasses.replace


@contextlib.contextmanager
def speedups():
    """archread's replacements of libcst's methods, for the length of the block (a reduction); where a method is
    not the one a replacement expects (another libcst), libcst's own stays, with a warning. Concurrent blocks
    (reductions in several threads) share one installation; the last one out restores libcst's."""
    with _LOCK:
        if not _ACTIVE[0]:
            for owner, name, expected, ours in _PATCHES:
                found = owner.__dict__.get(name)
                if _as_written(found, expected):
                    setattr(owner, name, ours)
                    _ACTIVE[1].append((owner, name, found))
                else:
                    warnings.warn(f"archread: libcst {_version()}'s {owner.__name__}.{name} is not the one archread's "
                                  "faster version replaces; libcst's own is used (slower, same result)", RuntimeWarning,
                                  stacklevel=3)
        _ACTIVE[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE[0] -= 1
            if not _ACTIVE[0]:
                for owner, name, found in reversed(_ACTIVE[1]):
                    setattr(owner, name, found)
                _ACTIVE[1].clear()


def _version() -> str:
    from importlib.metadata import version  # only on a mismatch

    return version("libcst")
