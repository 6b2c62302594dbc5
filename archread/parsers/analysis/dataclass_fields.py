"""Dataclasses whose fields the code reads as data (`fields(ModelConfig)`, `asdict(cfg)` of one) or fills by
arguments only the decorator's `__init__` takes (`Shape(heads, kv_heads)` of a class with no base and no
`__init__` of its own): their decorator and field annotations compute, so they stay. A dataclass only built and
read by attribute (a ModelOutput, whose base takes the arguments) is a plain class without them."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import walk

_READERS = {"fields", "asdict", "astuple", "replace"}  # dataclasses' functions of a class's fields


def _is_dataclass(cls: cst.ClassDef) -> bool:
    return any(dotted(d.decorator.func if type(d.decorator) is cst.Call else d.decorator).rsplit(".", 1)[-1] == "dataclass"
               for d in cls.decorators)


def _own_init(cls: cst.ClassDef, classes: dict[str, cst.ClassDef]) -> bool:
    """Something but the decorator takes the class's arguments: its own `__init__`, or a base not a dataclass
    of the module (ModelOutput)."""
    if any(type(s) is cst.FunctionDef and s.name.value == "__init__" for s in cls.body.body):
        return True
    return any(dotted(b.value) not in classes or _own_init(classes[dotted(b.value)], classes) for b in cls.bases
               if dotted(b.value) != cls.name.value)


def fields_read(module: cst.Module) -> set[str]:
    """The module's dataclasses passed by name to a dataclasses function of their fields, or built with
    arguments only their decorator takes; with the module's dataclasses they are built on (fields come down)."""
    classes = {s.name.value: s for s in module.body if type(s) is cst.ClassDef and _is_dataclass(s)}
    if not classes:
        return set()
    read = set()
    for node in walk(module):
        if type(node) is not cst.Call:
            continue
        name = dotted(node.func)
        if name.rsplit(".", 1)[-1] in _READERS:
            read |= {a.value.value for a in node.args if type(a.value) is cst.Name and a.value.value in classes}
        elif name in classes and node.args and not _own_init(classes[name], classes):
            read.add(name)
    todo = list(read)
    while todo:  # a base's fields are the subclass's first ones
        for base in classes[todo.pop()].bases:
            if dotted(base.value) in classes and dotted(base.value) not in read:
                read.add(dotted(base.value))
                todo.append(dotted(base.value))
    return read


def named_tuples(module: cst.Module) -> set[str]:
    """The module's `typing.NamedTuple` classes: their annotations are the tuple's fields (LLaDA's output)."""
    return {s.name.value for s in module.body if type(s) is cst.ClassDef
            and any(dotted(b.value).rsplit(".", 1)[-1] == "NamedTuple" for b in s.bases)}
