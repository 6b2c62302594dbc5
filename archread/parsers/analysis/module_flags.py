"""Module-level flags: `NPU_ATTN_INFR = False` bound once at the top of a module (what a folded
`if is_npu_available(): … else: …` leaves, or a constant the author wrote) and by nothing else anywhere, so
every read of the name is that literal."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.names import bound_names, other_binders
from archread.parsers.analysis.nodes import only_small, sole_target

_FLAGS = ("True", "False")


def _flag_store(stmt: cst.CSTNode) -> str | None:
    """x of the module-level statement `x = True` / `x = False`."""
    small = only_small(stmt)
    target = sole_target(small) if type(small) is cst.Assign else None
    value = small.value if target is not None else None
    return target.value if type(target) is cst.Name and type(value) is cst.Name and value.value in _FLAGS else None


def module_flags(module: cst.Module) -> dict[int, tuple[str, str]]:
    """index of each top-level flag store -> (its name, "True"/"False"), for the names nothing else binds."""
    stores = {i: name for i, stmt in enumerate(module.body) if (name := _flag_store(stmt))}
    if not stores:  # the usual module: no walk
        return {}
    bound, other = bound_names(module), other_binders(module)
    return {i: (name, only_small(module.body[i]).value.value) for i, name in stores.items()
            if bound[name] == 1 and name not in other}
