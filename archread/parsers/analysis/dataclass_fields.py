"""Dataclasses whose fields compute, so their decorator and field annotations stay: those the code reads as
data (`fields(ModelConfig)`, `asdict(cfg)` of one), and those it builds with arguments that only the decorator's
`__init__` takes (LongLLaMA's `LongLlamaMemConfig(positionals=..., cache_dtype=...)`). A dataclass built on the
framework's (a ModelOutput, which `outputs` takes apart) is a plain class without them."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import walk

_READERS = {"fields", "asdict", "astuple", "replace"}  # dataclasses' functions of a class's fields


def _is_dataclass(cls: cst.ClassDef) -> bool:
    return any(dotted(d.decorator.func if type(d.decorator) is cst.Call else d.decorator).rsplit(".", 1)[-1] == "dataclass"
               for d in cls.decorators)


def _own_init(cls: cst.ClassDef) -> bool:
    return any(type(s) is cst.FunctionDef and s.name.value == "__init__" for s in getattr(cls.body, "body", ()))


def _plain(classes: dict[str, cst.ClassDef]) -> set[str]:
    """The module's classes of no base but `object` or the module's own such classes, top-down as Python defines
    them: none takes an `__init__` from elsewhere."""
    plain: set[str] = set()
    for name, cls in classes.items():
        if all(not b.keyword and dotted(b.value) in plain | {"object"} for b in cls.bases):
            plain.add(name)
    return plain


def fields_read(module: cst.Module) -> set[str]:
    """The module's dataclasses passed by name to a dataclasses function of their fields, or called with
    arguments where the decorator's `__init__` is the only one to take them."""
    classes = {s.name.value: s for s in module.body if type(s) is cst.ClassDef}
    dataclasses = {name for name, cls in classes.items() if _is_dataclass(cls)}
    if not dataclasses:
        return set()
    built = {name for name in dataclasses & _plain(classes) if not _own_init(classes[name])}
    read = set()
    for node in walk(module):
        if type(node) is not cst.Call:
            continue
        if dotted(node.func).rsplit(".", 1)[-1] in _READERS:
            read |= {a.value.value for a in node.args if type(a.value) is cst.Name and a.value.value in dataclasses}
        elif node.args and type(node.func) is cst.Name and node.func.value in built:
            read.add(node.func.value)
    return read
