"""The repeated block of a parameter tree: which name component counts the layers, and the kinds of layer.

Read from names and shapes only, the same way for a checkpoint and for a candidate's reduced model: the layer
component is the numbered component under which the most tensors sit (`model.layers.7.…`,
`decoder.layers.7.…`, `h.7.…`); a kind of layer is the set of (name inside the layer, shape) it holds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

LAYER = "N"  # what the layer index becomes in a normalised name


@dataclass
class Tree:
    """A parameter tree split into the tensors outside the block and the layers of the block."""

    prefix: tuple[str, ...] | None  # the components before the layer index; None: no repeated block
    outside: dict[str, tuple[int, ...]] = field(default_factory=dict)
    layers: dict[int, dict[str, tuple[int, ...]]] = field(default_factory=dict)  # index -> name inside -> shape
    order: list[str] = field(default_factory=list)  # the names as given (header order / registration order)

    @property
    def count(self) -> int:
        return len(self.layers)

    def kinds(self) -> list[frozenset]:
        """The distinct kinds of layer, in the order they first occur."""
        seen: list[frozenset] = []
        for index in sorted(self.layers):
            kind = frozenset(self.layers[index].items())
            if kind not in seen:
                seen.append(kind)
        return seen

    def normalised(self) -> dict[str, set]:
        """normalised name -> the shapes it takes (a block name once, its index written N)."""
        out: dict[str, set] = {name: {shape} for name, shape in self.outside.items()}
        for tensors in self.layers.values():
            for inner, shape in tensors.items():
                out.setdefault(self.full(LAYER, inner), set()).add(shape)
        return out

    def full(self, index, inner: str) -> str:
        return ".".join((*self.prefix, str(index), inner)) if self.prefix is not None else inner

    @functools.cached_property
    def all_names(self) -> dict[str, tuple[int, ...]]:
        """names(), computed once (a fit asks for it once per candidate)."""
        return self.names()

    def names(self) -> dict[str, tuple[int, ...]]:
        out = dict(self.outside)
        for index, tensors in self.layers.items():
            out.update({self.full(index, inner): shape for inner, shape in tensors.items()})
        return out


def _first_number(parts: list[str]) -> int | None:
    return next((i for i, p in enumerate(parts) if p.isdigit()), None)


def split_tree(shapes: dict[str, tuple[int, ...]]) -> Tree:
    """The tree of name -> shape: the block is the numbered prefix holding the most tensors (two layers or more)."""
    under: dict[tuple[str, ...], list[str]] = {}
    indices: dict[tuple[str, ...], set[int]] = {}
    for name in shapes:
        parts = name.split(".")
        at = _first_number(parts)
        if at is not None:
            prefix = tuple(parts[:at])
            under.setdefault(prefix, []).append(name)
            indices.setdefault(prefix, set()).add(int(parts[at]))
    ranked = sorted((p for p in under if len(indices[p]) >= 2), key=lambda p: (-len(under[p]), len(p)))
    prefix = ranked[0] if ranked else None
    tree = Tree(prefix=prefix, order=list(shapes))
    for name, shape in shapes.items():
        parts = name.split(".")
        if prefix is not None and tuple(parts[:len(prefix)]) == prefix and len(parts) > len(prefix) + 1 \
                and parts[len(prefix)].isdigit():
            tree.layers.setdefault(int(parts[len(prefix)]), {})[".".join(parts[len(prefix) + 1:])] = tuple(shape)
        else:
            tree.outside[name] = tuple(shape)
    return tree


def hidden_width(tree: Tree) -> int | None:
    """The residual width: the size most block tensors share (every projection reads or writes it)."""
    counts: dict[int, int] = {}
    for tensors in tree.layers.values():
        for shape in tensors.values():
            for d in set(shape):
                counts[d] = counts.get(d, 0) + 1
    if not counts:
        for shape in tree.outside.values():
            for d in set(shape):
                counts[d] = counts.get(d, 0) + 1
    return max(counts, key=lambda d: (counts[d], d)) if counts else None
