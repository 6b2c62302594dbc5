"""einops' `rearrange` and `repeat`, for the reduced modules of remote code that writes its reshapes in them:
the prelude's own, from the pattern language einops documents (named axes, `(a b)` groups, `...`, `1`), so a
reduced module needs no package beyond torch. Sizes a pattern cannot infer come as keywords, as in einops."""

from __future__ import annotations

import math

import torch

_ELLIPSIS = "…"  # one token for the dimensions `...` stands for


def _groups(side: str) -> list[list[str]]:
    """`b (h d) ...` → [['b'], ['h', 'd'], ['…']]; a lone number is an anonymous axis of that size."""
    groups, current = [], None
    for token in side.replace("(", " ( ").replace(")", " ) ").replace("...", f" {_ELLIPSIS} ").split():
        if token == "(":
            current = []
        elif token == ")":  # a tuple: `(...)` is a group, a bare `...` is not
            groups.append(tuple(current))
            current = None
        elif current is not None:
            current.append(token)
        else:
            groups.append([token])
    return groups


def _sizes(shape, left, known: dict) -> tuple[dict, list[str]]:
    """Each elementary axis of the left side and its size; the ellipsis's dimensions get names of their own."""
    sizes, order = dict(known), []
    extra = len(shape) - len(left)
    dims = iter(shape)
    for group in left:
        if group == [_ELLIPSIS]:
            for i in range(extra + 1):
                sizes[f"{_ELLIPSIS}{i}"] = next(dims)
                order.append(f"{_ELLIPSIS}{i}")
            continue
        size = next(dims)
        unknown = [a for a in group if a not in sizes and not a.isdigit()]
        rest = math.prod(int(a) if a.isdigit() else sizes.get(a, 1) for a in group)
        if len(unknown) > 1:
            raise ValueError(f"cannot infer the sizes of {unknown}: give them as keywords")
        for a in unknown:
            sizes[a] = size // rest
        for a in group:
            name = a if not a.isdigit() else f"#{len(order)}"
            sizes.setdefault(name, int(a) if a.isdigit() else sizes[a])
            order.append(name)
    return sizes, order


def _expand_ellipsis(groups, ellipsis_axes):
    """A bare `...` is its dimensions one by one; `(...)` merges them."""
    out = []
    for g in groups:
        if g == [_ELLIPSIS]:
            out += [[a] for a in ellipsis_axes]
        else:
            out.append(tuple(a for x in g for a in (ellipsis_axes if x == _ELLIPSIS else [x])))
    return out


def _apply(tensor, pattern: str, lengths: dict, new_axes_allowed: bool):
    if isinstance(tensor, (list, tuple)):
        tensor = torch.stack(list(tensor))
    left_side, right_side = pattern.split("->")
    left, right = _groups(left_side), _groups(right_side)
    sizes, order = _sizes(tensor.shape, left, lengths)
    ellipsis_axes = [a for a in order if a.startswith(_ELLIPSIS)]
    right = _expand_ellipsis(right, ellipsis_axes)
    x = tensor.reshape([sizes[a] for a in order])
    kept = [a for g in right for a in g if a in order]
    kept += [a for a in order if a not in kept]  # the left side's `1` axes: last, then gone in the reshape
    x = x.permute([order.index(a) for a in kept])
    shape, index = [], 0
    for group in right:  # new axes (repeat): inserted with size 1, then expanded
        for a in group:
            if a in order:
                shape.append(x.shape[index])
                index += 1
            elif not new_axes_allowed and a != "1":
                raise ValueError(f"rearrange: axis {a} is not on the left side")
            else:
                shape.append(1)
    x = x.reshape(shape)
    target = [sizes.get(a, int(a) if a.isdigit() else lengths.get(a)) if a not in order else sizes[a]
              for g in right for a in g]
    x = x.expand(target)
    return x.reshape([math.prod(target[sum(len(g) for g in right[:i]):][:len(group)]) for i, group in enumerate(right)])


def rearrange(tensor, pattern: str, **axes_lengths):
    """einops.rearrange: reorder, split and merge axes by pattern ('b s (h d) -> b h s d', h=4)."""
    return _apply(tensor, pattern, axes_lengths, new_axes_allowed=False)


def repeat(tensor, pattern: str, **axes_lengths):
    """einops.repeat: rearrange, with new axes on the right repeated to their given sizes ('b d -> b n d', n=3)."""
    return _apply(tensor, pattern, axes_lengths, new_axes_allowed=True)
