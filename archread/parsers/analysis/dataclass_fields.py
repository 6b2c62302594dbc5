"""Dataclasses whose fields the code reads as data (`fields(ModelConfig)`, `asdict(cfg)` of one): their decorator
and field annotations compute, so they stay. A dataclass only built and read by attribute (a ModelOutput) is
a plain class without them."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import walk

_READERS = {"fields", "asdict", "astuple", "replace"}  # dataclasses' functions of a class's fields


def _is_dataclass(cls: cst.ClassDef) -> bool:
    return any(dotted(d.decorator.func if type(d.decorator) is cst.Call else d.decorator).rsplit(".", 1)[-1] == "dataclass"
               for d in cls.decorators)


def fields_read(module: cst.Module) -> set[str]:
    """The module's dataclasses passed by name to a dataclasses function of their fields."""
    classes = {s.name.value for s in module.body if type(s) is cst.ClassDef and _is_dataclass(s)}
    if not classes:
        return set()
    read = set()
    for node in walk(module):
        if type(node) is cst.Call and dotted(node.func).rsplit(".", 1)[-1] in _READERS:
            read |= {a.value.value for a in node.args if type(a.value) is cst.Name and a.value.value in classes}
    return read
