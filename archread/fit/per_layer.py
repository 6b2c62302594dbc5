"""The per-layer configuration fields (layer_types, mlp_layer_types, layer-indexed dicts, lists of layer indices)
at a checkpoint's layers: each checkpoint layer takes the values of the candidate layer it was matched to.

Where candidate layers of the same tensors differ in a field (Gemma-2's sliding and full layers hold the same
tensors), the shapes do not tell which the checkpoint layer is: the candidate's defaults at that position decide,
among the values that layer kind takes.
"""

from __future__ import annotations

_ABSENT = object()


def _at(spec: dict, which: str, j: int):
    value = spec[which]
    if spec["kind"] == "list":
        return value[j] if j < len(value) else _ABSENT
    if spec["kind"] == "dict":
        return value.get(str(j), _ABSENT)
    return j in value  # a list of layer indices: whether layer j is one of them


def layer_config(entry: dict, choice: dict[int, int], kind_of: dict[int, object]) -> dict:
    """field -> value at the checkpoint's layers; choice: checkpoint layer -> candidate layer, kind_of: candidate
    layer -> what its tensors are at the fitted values (layers of one kind are interchangeable by shapes)."""
    specs = entry.get("per_layer") or {}
    if not specs or not choice:
        return {}
    members: dict = {}
    for j, kind in kind_of.items():
        members.setdefault(kind, []).append(j)
    order = sorted(choice)
    out = {}
    for name, spec in specs.items():
        if spec["kind"] == "list" and len(spec["tiny"]) != len(kind_of):
            continue  # entries that are not one per layer module (Dory's two per block): not for the layout to set
        values = []
        for position, i in enumerate(order):
            j = choice[i]
            allowed = []
            for m in sorted(members.get(kind_of.get(j), [j])):
                v = _at(spec, "tiny", m)
                if v not in allowed:
                    allowed.append(v)
            value = allowed[0] if len(allowed) == 1 else _at(spec, "tiny", j)
            if len(allowed) > 1:
                default = _at(spec, "default", position)
                value = default if default in allowed else value
            values.append(value)
        if spec["kind"] == "list":
            if _ABSENT in values:
                continue
            out[name] = values
        elif spec["kind"] == "dict":
            out[name] = {(p if spec.get("int_keys") else str(p)): v for p, v in enumerate(values) if v is not _ABSENT}
        else:
            out[name] = [p for p, v in enumerate(values) if v]
    return out
