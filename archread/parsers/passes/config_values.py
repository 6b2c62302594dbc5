"""Config values: with a checkpoint's configuration given (`reduce --config`), the branches it decides fold.

Only conditions are specialised: `if self.config.rope_scaling is None:`, `config.rope_scaling["type"] ==
"linear"`, and `if self.rope_type != "default":` where that attribute is stored once, in its class family,
from such a read. Sizes stay names (`nn.Linear(config.hidden_size, …)`): the module still reads as the
architecture, now without the variants this checkpoint never runs. Runs only when a configuration is given.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.classes import Family
from archread.parsers.analysis.names import bound_names
from archread.parsers.analysis.nodes import dotted, is_config, is_self_attr
from archread.parsers.config_defaults import Partial
from archread.parsers.evaluate import UNKNOWN, evaluate
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

_LITERAL = (bool, int, str, type(None))
_BLOCKS = ("body", "orelse", "handlers", "finalbody")  # where a statement holds statements


def _key(node: cst.Subscript) -> str | None:
    if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index and type(node.slice[0].slice.value) is cst.SimpleString:
        return node.slice[0].slice.value.evaluated_value
    return None


def _null_check(node: cst.Comparison) -> bool:
    """`x is None` / `x is not None`."""
    return len(node.comparisons) == 1 and type(node.comparisons[0].operator) in (cst.Is, cst.IsNot) \
        and m.matches(node.comparisons[0].comparator, m.Name("None"))


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def config_field(node: cst.CSTNode) -> str | None:
    """The configuration read as a key of `Reduction.assumed`: `config.x["k"]` -> `x['k']`, `getattr(config, "x")`
    -> `x`, `config.x.get("k")` -> `x['k']`."""
    kind = type(node)
    if kind is cst.Attribute:
        return node.attr.value if is_config(node.value) else None
    if kind is cst.Subscript:
        outer, key = config_field(node.value), _key(node)
        return f"{outer}[{key!r}]" if outer and key is not None else None
    if kind is cst.Call and node.args and type(node.args[-1].value) is cst.SimpleString:
        key = node.args[-1].value.evaluated_value
        if dotted(node.func) == "getattr" and is_config(node.args[0].value) and len(node.args) > 1:
            return node.args[1].value.evaluated_value if type(node.args[1].value) is cst.SimpleString else None
        if type(node.func) is cst.Attribute and node.func.attr.value == "get" and len(node.args) == 1:
            outer = config_field(node.func.value)
            return f"{outer}[{key!r}]" if outer else None
    return None


def config_read(node: cst.CSTNode, values: dict) -> object:
    """The value a read of the configuration gives (`config.x`, `self.config.x["k"]`, `getattr(config, "x")`,
    `config.x.get("k")`), or UNKNOWN."""
    kind = type(node)
    if kind is cst.Attribute and is_config(node.value):
        return values.get(node.attr.value, UNKNOWN)
    if kind is cst.Subscript:
        outer, key = config_read(node.value, values), _key(node)
        return outer.get(key, UNKNOWN) if isinstance(outer, dict) and key is not None else UNKNOWN
    if kind is cst.Call and node.args and not any(a.keyword or a.star for a in node.args):
        strings = [a.value.evaluated_value if type(a.value) is cst.SimpleString else None for a in node.args]
        if dotted(node.func) == "getattr" and len(node.args) in (2, 3) and is_config(node.args[0].value) and strings[1]:
            return values.get(strings[1], UNKNOWN)  # absent from the values: its default may or may not apply
        if type(node.func) is cst.Attribute and node.func.attr.value == "get" and len(node.args) == 1 and strings[0]:
            outer = config_read(node.func.value, values)
            if isinstance(outer, Partial) and strings[0] not in outer:
                return UNKNOWN
            return outer.get(strings[0]) if isinstance(outer, dict) else UNKNOWN  # dict.get: None when absent
    return UNKNOWN


class ConfigValues(Knockout):
    NAME = "config"
    DESCRIPTION = "Branches the given configuration decides (reduce --config)."
    CONFIG = {"rope_scaling": None, "rope_parameters": {"rope_type": "default"}, "kind": "a", "hidden_size": 8}  # the examples'
    STRIP = [(
        "class ARotary(nn.Module):\n    def __init__(self, config):\n        self.rope_type = config.rope_parameters['rope_type']\n"
        "        fn = self.default\n        if self.rope_type != 'default':\n            fn = TABLE[self.rope_type]\n"
        "        self.f = fn(config)\n",
        "class ARotary(nn.Module):\n    def __init__(self, config):\n        self.rope_type = config.rope_parameters['rope_type']\n"
        "        fn = self.default\n        self.f = fn(config)\n",
    ), (
        "class AAttention(nn.Module):\n    def __init__(self, config):\n        self.config = config\n"
        "        if self.config.rope_scaling is None:\n            self.rope = R()\n        else:\n"
        "            self.rope = S(self.config.rope_scaling['factor'])\n",
        "class AAttention(nn.Module):\n    def __init__(self, config):\n        self.config = config\n        self.rope = R()\n",
    )]
    KEEP = [
        "def f(config):\n    return getattr(config, 'hidden_size', None) or 4\n",  # a size, not a decision
        "def f(config):\n    if config.other:\n        return 1\n    return nn.Linear(config.hidden_size, 2)\n",  # not given; a size
        "class A(nn.Module):\n    def __init__(self, config):\n        self.kind = config.kind\n\n"  # stored twice: unknown
        "    def forward(self, x):\n        if self.kind == 'a':\n            self.kind = x\n        return x\n",
    ]

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.values = self.ctx.config or {}
        classes = {s.name.value: s for s in node.body if type(s) is cst.ClassDef}
        self.family = Family(classes)
        self.stored = self._stored(classes)
        self._class = ""  # the family of the class being walked (a pass before may drop a class: no leave hook then)
        self._top = {id(s): s.name.value for s in node.body if type(s) in (cst.ClassDef, cst.FunctionDef)}
        self._owner = ""  # the top-level definition being walked
        self._scope: list = [None, {}]  # the function being walked and its locals set once from a read
        self._outer: list[list] = []
        self._compared: set[int] = set()
        self._null_checked: set[int] = set()  # `x is None`: whether there is one, not how many
        self._passed: set[int] = set()

    def _stored(self, classes: dict) -> dict[tuple[str, str], tuple]:
        """(family, attr) -> (value, the (field, value) reads it rests on), for `self.attr = <config read>`
        stored once in the whole module (once where the configuration leaves it: see `_live`)."""
        found, stores = {}, Counter()
        for name, cls in classes.items():
            for n, decided in self._live(cls):
                targets = [t.target for t in n.targets] if type(n) is cst.Assign else [n.target] if type(n) in (cst.AugAssign, cst.AnnAssign) else []
                for target in targets:
                    if is_self_attr(target):
                        stores[target.attr.value] += 1
                        if type(n) is cst.Assign and len(targets) == 1:
                            value, reads = self._read(n.value)
                            found[(self.family.find(name), target.attr.value)] = (value, reads + decided)
        return {k: v for k, v in found.items() if stores[k[1]] == 1 and isinstance(v[0], _LITERAL) and v[1]}

    def _live(self, node: cst.CSTNode):
        """(small statement, the reads that decided the branches it sits in) under node, but for the branch of an
        `if` the configuration rules out (so 4.48's `if config.rope_scaling is not None: self.rope_type = …  else:
        self.rope_type = "default"` stores once). Statements only: no expression holds an assignment."""
        stack = [(node, ())]
        while stack:
            current, decided = stack.pop()
            kind = type(current)
            if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
                yield from ((small, decided) for small in current.body)
                continue
            if kind is cst.If:
                truth, reads = self._decide(current.test)
                if truth is not UNKNOWN:
                    kept = current.body if truth else current.orelse
                    stack.extend([(kept, decided + reads)] if kept is not None else [])
                    continue
            for name in _BLOCKS:
                part = getattr(current, name, None)
                if type(part) in (list, tuple):
                    stack.extend((p, decided) for p in part)
                elif part is not None:
                    stack.append((part, decided))

    def _decide(self, test: cst.CSTNode) -> tuple[object, tuple]:
        """The value of a condition on configuration reads, and the (field, value) reads that give it."""
        reads, null_checked = [], {id(c.left) for c in walk(test) if type(c) is cst.Comparison and _null_check(c)}

        def leaf(n):
            value, rests = self._read(n) if type(n) is not cst.IfExp else (UNKNOWN, ())
            if _is_number(value) and self.ctx.defaults and id(n) not in null_checked:
                return UNKNOWN  # a default size decides nothing (`if config.num_experts > 0`)
            if value is not UNKNOWN:
                reads.extend(rests)
            return value
        truth = evaluate(test, leaf)
        return truth, tuple(reads)

    def _read(self, node: cst.CSTNode) -> tuple[object, tuple]:
        """(value, the (field, value) reads it rests on) of an expression: a configuration read, a literal, or
        a choice made on a read (`config.rope_scaling["type"] if config.rope_scaling is not None else "default"`)."""
        if type(node) is cst.IfExp:
            if type(node.test) is cst.Comparison and _null_check(node.test):
                value = config_read(node.test.left, self.values)
                if value is not UNKNOWN:
                    taken = (value is None) == (type(node.test.comparisons[0].operator) is cst.Is)
                    chosen, rests = self._read(node.body if taken else node.orelse)
                    if chosen is not UNKNOWN:
                        return chosen, rests + ((config_field(node.test.left), value),)
            return UNKNOWN, ()
        if type(node) is cst.SimpleString:
            return node.evaluated_value, ()
        value, name = config_read(node, self.values), config_field(node)
        return value, ((name, value),) if name is not None and isinstance(value, _LITERAL) else ()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._class = self.family.find(node.name.value) if node.name.value in self.family.parent else ""
        self._owner = self._top.get(id(node), self._owner)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._owner = self._top.get(id(node), self._owner)
        self._outer.append(self._scope)
        self._scope = [node, None]  # the function, and its locals read once (`_read_once`) when a test first needs them

    def leave_FunctionDef(self, original, updated):
        self._scope = self._outer.pop() if self._outer else [None, {}]
        return super().leave_FunctionDef(original, updated)

    def _read_once(self, fn: cst.FunctionDef) -> dict:
        """local -> (value, reads) for a local the function sets once, from a configuration read, and never
        binds otherwise (`scaling_type = self.config.rope_scaling["type"]`)."""
        stores = bound_names(fn.body) + Counter(p.name.value for p in walk(fn.params) if type(p) is cst.Param)
        found = {}
        for small, _ in self._live(fn.body):
            if type(small) is cst.Assign and len(small.targets) == 1 and type(small.targets[0].target) is cst.Name \
                    and stores[small.targets[0].target.value] == 1:
                value, reads = self._read(small.value)
                if isinstance(value, _LITERAL) and reads:
                    found[small.targets[0].target.value] = (value, reads)
        return found

    def _value(self, node: cst.CSTNode) -> tuple[object, tuple]:
        """(the value a read gives, the (field, value) reads it rests on)."""
        if is_self_attr(node) and self._class:
            return self.stored.get((self._class, node.attr.value), (UNKNOWN, ()))
        if type(node) is cst.Name:
            if self._scope[1] is None:
                self._scope[1] = self._read_once(self._scope[0])
            return self._scope[1].get(node.value, (UNKNOWN, ()))
        value, reads = self._read(node) if type(node) is not cst.IfExp else (UNKNOWN, ())
        return (value, reads) if isinstance(value, _LITERAL) else (UNKNOWN, ())

    def visit_Comparison(self, node: cst.Comparison) -> None:
        super().visit_Comparison(node)
        self._compared.update(id(n) for n in (node.left, *(c.comparator for c in node.comparisons)))
        if _null_check(node):
            self._null_checked.add(id(node.left))

    def _fixed(self, original, updated):
        if id(original) in self._tests:
            value, reads = self._value(updated)
            # a number is a size: a checkpoint's folds only where it is compared (`num_experts > 1`, not `head_dim or
            # hidden // heads`), a default's only against None (`sliding_window is None`)
            compared = self._null_checked if self.ctx.defaults else self._compared
            if value is not UNKNOWN and (not _is_number(value) or id(original) in compared):
                for name, held in reads:  # the reading holds for these values only, where the definition survives
                    self.ctx.assumed.setdefault(name, (held, set()))[1].add(self._owner)
                return self._const(value)
        return updated

    def visit_Arg(self, node: cst.Arg) -> None:
        super().visit_Arg(node)
        self._passed.add(id(node.value))

    def visit_Element(self, node: cst.Element) -> None:
        super().visit_Element(node)
        self._passed.add(id(node.value))

    def leave_Name(self, original, updated):
        updated = super().leave_Name(original, updated)
        # a local read as a decision (`if scaling_type == "linear"`), not one passed on as an argument
        return updated if id(original) in self._passed or type(updated) is not cst.Name else self._fixed(original, updated)

    def leave_Attribute(self, original, updated):
        return self._fixed(original, updated)

    def leave_Subscript(self, original, updated):
        return self._fixed(original, updated)

    def leave_Call(self, original, updated):
        return self._fixed(original, super().leave_Call(original, updated))
