"""A fit confirmed by a real build: the candidate's reduced model built on the meta device at the fitted
configuration takes the checkpoint's tensors (renamed and split as the map says) with strict=True."""

from __future__ import annotations

import importlib

import torch

from archread.errors import ArchreadError, one_line
from archread.fit.match import Fit


def _meta_model(fit: Fit, original: bool = False):
    from archread.parsers import resolve
    from archread.parsers.cache import reduce_cached
    from archread.runtime.build import for_config, load_module
    from archread.runtime.compare import eager

    entry = fit.entry
    module, name = entry["config_class"]
    cls = getattr(importlib.import_module(module), name)
    fitted = {k: v for k, v in fit.config.items() if k != "model_type"}
    last = None
    for base in (entry["defaults"], entry["tiny_fields"]):  # the defaults first; the tiny values where they clash
        try:
            cfg = eager(cls.from_dict({**{k: v for k, v in base.items() if k != "model_type"}, **fitted}))
            reduction = for_config(reduce_cached(resolve(entry["path"])), cfg)
            if original:  # the class transformers' conversion mapping knows
                from archread.runtime.original import find_original

                cls = find_original(resolve(entry["path"]), entry["root"]).model_class
            else:
                cls = getattr(load_module(reduction), entry["root"])
            with torch.device("meta"):
                return cls(cfg)
        except Exception as exc:  # noqa: BLE001 - try the other base
            last = exc
    raise ArchreadError(f"the reduced {entry['root']} does not build at the fitted configuration ({one_line(last)})")


def _saved_state(model) -> dict:
    from transformers.core_model_loading import revert_weight_conversion

    return revert_weight_conversion(model, model.state_dict())


def loads_strict(fit: Fit, shapes: dict) -> bool:
    """Whether the checkpoint's tensors, renamed by the fit's map, load into the meta build with strict=True;
    for a fit to the saved tree, whether they are that tree exactly (the names and shapes from_pretrained
    converts into the module)."""
    saved = fit.entry.get("form") == "saved"
    model = _meta_model(fit, original=saved)
    own = _saved_state(model) if saved else model.state_dict()
    state = {}
    for name, shape in shapes.items():
        target = (fit.renaming or {}).get(name, name)
        if isinstance(target, tuple):
            _, axis, parts = target
            for part in parts:
                state[part] = torch.empty(own[part].shape, device="meta")
        else:
            state[target] = torch.empty(shape, device="meta")
    for key in fit.tied:
        state[key] = torch.empty(own[key].shape, device="meta")
    if saved:
        return {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in own.items()}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError:
        return False
    return all(tuple(state[k].shape) == tuple(v.shape) for k, v in own.items())
