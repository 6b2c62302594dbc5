"""A module's own classes: the families inheritance joins, Python's method lookup order over them, and the
model classes a reduction keeps (its roots).

`local_mro` and `definer` are Python's rule (C3), for anyone asking which method a class runs: the facts read
the reduced module with it. The call graph (`calls.CallGraph.lookup`) resolves a call only where a class's
chain of bases is single and local, and calls anything else unresolved: a rewrite must know every definition a
call can reach, and gives up where it cannot be sure; where it resolves, its answer is `definer`'s."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from archread.parsers.analysis.nodes import dotted
from archread.parsers.mro import local_mro


class Family:
    """Classes of the module joined by inheritance: `self.x` in a base may be built by a subclass."""

    def __init__(self, classes: dict[str, cst.ClassDef]):
        self.parent = {name: name for name in classes}
        for name, cls in classes.items():
            for base in cls.bases:
                other = dotted(base.value)
                if other in classes:
                    self.parent[self.find(name)] = self.find(other)

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            name = self.parent[name]
        return name


def _torch_base(base: str) -> bool:
    """A base that makes a class torch machinery (a module, a model, an autograd function), never a
    configuration or a plain record."""
    return base.split(".")[0] in ("nn", "torch") or base.rsplit(".", 1)[-1].endswith(("Module", "Model"))


def torch_families(classes: dict[str, cst.ClassDef], family: Family) -> set[str]:
    """The families (their roots) with a class built on torch machinery from outside the module."""
    return {family.find(name) for name, cls in classes.items()
            if any(_torch_base(dotted(b.value)) for b in cls.bases if dotted(b.value) not in classes)}


def definer(bases: dict[str, list[str]], defines: Callable[[str, str], bool], cls: str, name: str) -> str | None:
    """The class here whose method `name` an instance of cls runs: cls itself or a base, in Python's lookup
    order (`bases`: class -> its base names; `defines(c, name)`: whether class c's own body defines it). For any
    tree: libcst's (`class_defines`) or Python's ast."""
    if cls not in bases:
        return None
    return next((c for c in local_mro(bases, cls) if defines(c, name)), None)


def local_bases(classes: dict[str, cst.ClassDef]) -> dict[str, list[str]]:
    """Class -> the dotted names of its bases, for `local_mro` and `definer`."""
    return {name: [dotted(b.value) for b in cls.bases] for name, cls in classes.items()}


def class_defines(classes: dict[str, cst.ClassDef]) -> Callable[[str, str], bool]:
    """`defines` for `definer` over libcst classes."""
    return lambda cls, name: any(type(s) is cst.FunctionDef and s.name.value == name for s in classes[cls].body.body)


_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def roots(module: cst.Module, root: str | None = None) -> list[str]:
    """The model classes the reduction keeps: `root` where given (a remote-code repo names its own), else the
    LM heads that have a forward (their own or a base's here) and no other head is built on, else every class
    defining one. A head without a forward (a Flax or TensorFlow `__call__`) is no torch model."""
    classes = {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef)}
    if root is not None:
        return [root] if root in classes else []

    def defines(name: str) -> bool:
        return any(type(f) is cst.FunctionDef and f.name.value == "forward" for f in classes[name].body.body)

    def runs(name: str, seen: frozenset = frozenset()) -> bool:
        bases = {dotted(b.value) for b in classes[name].bases} & classes.keys()
        return defines(name) or any(runs(b, seen | {name}) for b in bases - seen)

    heads = [n for n in classes if n.endswith(_LM_SUFFIXES) and runs(n)]
    based = {dotted(b.value) for n in heads for b in classes[n].bases}  # a head another is built on is a part
    return [n for n in heads if n not in based] or heads or [n for n in classes if defines(n)]
