"""Python's method lookup order over a module's own classes, on names alone: the one rule the passes (through
`analysis.classes`) and the facts share. Pure Python, so the facts of a cached reading import no libcst."""

from __future__ import annotations


def local_mro(bases: dict[str, list[str]], name: str) -> list[str]:
    """The order Python looks a method up in, over the module's own classes (`bases`: class -> its base names;
    bases from elsewhere are left out): C3, as `type.__mro__` has it."""
    def mro(cls: str, seen: frozenset) -> list[str]:
        local = [b for b in bases.get(cls, ()) if b in bases and b not in seen]
        pending = [mro(b, seen | {cls}) for b in local] + [local]
        out = [cls]
        while any(pending):
            head = next((seq[0] for seq in pending if seq and not any(seq[0] in other[1:] for other in pending)), None)
            if head is None:  # no consistent order: the first bases, depth first
                return out + [c for seq in pending for c in seq if c not in out]
            out.append(head)
            pending = [[c for c in seq if c != head] for seq in pending]
        return out
    return mro(name, frozenset())
