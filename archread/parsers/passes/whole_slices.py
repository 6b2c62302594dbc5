"""Whole slices: `self.layers[: self.config.num_hidden_layers]` of a ModuleList built for exactly that many.

5.x models slice their layer list to the configured count (`for layer in self.layers[: self.config.n]`);
where the list was built from `range(config.n)` in the same class and nothing changes it, the slice is
the whole list and reads as `self.layers`.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.classes import Family
from archread.parsers.analysis.nodes import dotted, is_self_attr, method
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass

_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "__setitem__", "__delitem__"}


def _config_field(node: cst.CSTNode, names: tuple[str, ...]) -> str | None:
    """`config.n` or `self.config.n` (names: the spellings of the configuration) -> "n"."""
    if type(node) is cst.Attribute and dotted(node.value) in names:
        return node.attr.value
    return None


def _built_count(value: cst.CSTNode) -> str | None:
    """The field n of `nn.ModuleList([... for _ in range(config.n)])` (a list or generator, one loop)."""
    if type(value) is not cst.Call or not dotted(value.func).endswith("ModuleList") or len(value.args) != 1:
        return None
    inner = value.args[0].value
    if type(inner) not in (cst.ListComp, cst.GeneratorExp) or inner.for_in.inner_for_in or inner.for_in.ifs:
        return None
    source = inner.for_in.iter
    if type(source) is cst.Call and dotted(source.func) == "range" and len(source.args) == 1 and not source.args[0].keyword:
        return _config_field(source.args[0].value, ("config", "self.config"))
    return None


class _Writes:
    """One reading of the module: the attribute names something stores into, deletes or changes in place other
    than by a plain `self.attr = …` (`self.model.layers.append`, `self.layers[0] = …`), and per class how often
    it assigns `self.attr`."""

    def __init__(self, module: cst.Module):
        self.touched: set[str] = set()
        self.assigned: dict[str, Counter] = {}
        for stmt in module.body:
            counts = self.assigned.setdefault(stmt.name.value, Counter()) if type(stmt) is cst.ClassDef else None
            for node in walk(stmt):
                kind = type(node)
                if kind is cst.AssignTarget or kind is cst.AugAssign or kind is cst.Del:
                    target = node.target.value if type(node.target) is cst.Subscript else node.target
                    if type(target) is not cst.Attribute:
                        continue
                    if is_self_attr(target) and target is node.target and kind is not cst.Del and counts is not None:
                        counts[target.attr.value] += 1
                    else:
                        self.touched.add(target.attr.value)
                elif kind is cst.Attribute and node.attr.value in _MUTATORS and type(node.value) is cst.Attribute:
                    self.touched.add(node.value.attr.value)

    def once(self, attr: str, family: list[str]) -> bool:
        """Whether `self.attr` is assigned exactly once across these classes and changed nowhere else."""
        return attr not in self.touched and sum(self.assigned[c][attr] for c in family) == 1


class _Unslice(cst.CSTTransformer):
    def __init__(self, counts: dict[str, str]):
        super().__init__()
        self.counts = counts

    def leave_Subscript(self, original, updated):
        value = updated.value
        if not (is_self_attr(value) and value.attr.value in self.counts and len(updated.slice) == 1):
            return updated
        part = updated.slice[0].slice
        if type(part) is not cst.Slice or part.step is not None:
            return updated
        if part.lower is not None and not (type(part.lower) is cst.Integer and part.lower.value == "0"):
            return updated
        if part.upper is None or _config_field(part.upper, ("self.config",)) != self.counts[value.attr.value]:
            return updated
        return value


class WholeSlices(StripPass):
    NAME = "whole_slices"
    DESCRIPTION = "Slices of a module list to the count it was built with (`self.layers[: self.config.num_hidden_layers]`)."
    STRIP = [(
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.config = config\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(config.num_hidden_layers)])\n\n"
        "    def forward(self, x):\n        for layer in self.layers[: self.config.num_hidden_layers]:\n"
        "            x = layer(x)\n        return x\n",
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.config = config\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(config.num_hidden_layers)])\n\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n",
    )]
    KEEP = [  # built with more layers than it runs (a multi-token-prediction layer after the decoder's)
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.config = config\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(config.num_hidden_layers + 1)])\n\n"
        "    def forward(self, x):\n        for layer in self.layers[: self.config.num_hidden_layers]:\n"
        "            x = layer(x)\n        return x\n",
        # a list that grows after it is built
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.config = config\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(config.num_hidden_layers)])\n"
        "        self.layers.append(ALayer(config, 0))\n\n"
        "    def forward(self, x):\n        for layer in self.layers[: self.config.num_hidden_layers]:\n"
        "            x = layer(x)\n        return x\n",
        # a subclass builds its own, longer list
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.config = config\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(config.num_hidden_layers)])\n\n"
        "    def forward(self, x):\n        for layer in self.layers[: self.config.num_hidden_layers]:\n"
        "            x = layer(x)\n        return x\n\n\n"
        "class BModel(AModel):\n    def __init__(self, config):\n        super().__init__(config)\n"
        "        self.layers = nn.ModuleList([ALayer(config, i) for i in range(2 * config.num_hidden_layers)])\n",
    ]

    def leave_Module(self, original, updated):
        classes = {s.name.value: s for s in updated.body if type(s) is cst.ClassDef}
        built = {name: _built(cls) for name, cls in classes.items()}
        if not any(built.values()):  # the usual module: no list built from a count with its config kept
            return updated
        writes, family = _Writes(updated), Family(classes)
        body = []
        for stmt in updated.body:
            counts = built.get(stmt.name.value) if type(stmt) is cst.ClassDef else None
            if counts:
                joined = [n for n in classes if family.find(n) == family.find(stmt.name.value)]
                counts = {attr: n for attr, n in counts.items() if writes.once(attr, joined)}
                if counts and writes.once("config", joined):
                    stmt = transform(stmt, _Unslice(counts))
            body.append(stmt)
        return updated.with_changes(body=body)


def _built(cls: cst.ClassDef) -> dict[str, str]:
    """attribute -> configuration field, for the module lists built from a count in this class's own `__init__`,
    which also keeps the configuration it was given as `self.config`."""
    init = method(cls, "__init__")
    if init is None or not any(p.name.value == "config" for p in init.params.params):
        return {}
    counts, keeps_config = {}, False
    for stmt in init.body.body:
        small = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        if type(small) is not cst.Assign or len(small.targets) != 1 or not is_self_attr(small.targets[0].target):
            continue
        attr = small.targets[0].target.attr.value
        if attr == "config" and type(small.value) is cst.Name and small.value.value == "config":
            keeps_config = True
        field = _built_count(small.value)
        if field is not None:
            counts[attr] = field
    return counts if keeps_config else {}
