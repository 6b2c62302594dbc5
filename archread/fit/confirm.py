"""A fit confirmed by a real build: the candidate's reduced model built on the meta device at the fitted
configuration takes the checkpoint's tensors (renamed and split as the map says) with strict=True."""

from __future__ import annotations

import importlib

import torch

from archread.errors import ArchreadError, one_line
from archread.fit.match import Fit


def _meta_models(fit: Fit, original: bool = False):
    """The candidate on the meta device at the fitted values, over each reference for the rest."""
    from archread.parsers import resolve
    from archread.parsers.cache import reduce_cached
    from archread.runtime.build import for_config, load_module
    from archread.runtime.compare import eager

    entry = fit.entry
    module, name = entry["config_class"]
    cls = getattr(importlib.import_module(module), name)
    fitted = {k: v for k, v in fit.config.items() if k != "model_type"}
    last, built = None, False
    for base in (entry["defaults"], entry["tiny_fields"]):  # what the fit does not tell: its references' values
        try:
            cfg = eager(cls.from_dict({**{k: v for k, v in base.items() if k != "model_type"}, **fitted}))
            reduction = for_config(reduce_cached(resolve(entry["path"])), cfg)
            if original:  # the class transformers' conversion mapping knows
                from archread.runtime.original import find_original

                model_cls = find_original(resolve(entry["path"]), entry["root"]).model_class
            else:
                model_cls = getattr(load_module(reduction), entry["root"])
            with torch.device("meta"):
                model = model_cls(cfg)
        except Exception as exc:  # noqa: BLE001 - try the other base
            last = exc
            continue
        built = True
        yield model
    if not built:
        raise ArchreadError(f"the reduced {entry['root']} does not build at the fitted configuration ({one_line(last)})")


def _saved_state(model) -> dict:
    from transformers.core_model_loading import revert_weight_conversion

    return revert_weight_conversion(model, model.state_dict())


def loads_strict(fit: Fit, shapes: dict) -> bool:
    """Whether the checkpoint loads strict into the candidate built at the fitted values, with what the fit does
    not tell taken from the defaults or from the tiny form (see _loads)."""
    return any(_loads(fit, shapes, model) for model in _meta_models(fit, original=fit.entry.get("form") == "saved"))


def _loads(fit: Fit, shapes: dict, model) -> bool:
    """Whether the checkpoint's tensors, renamed by the fit's map, load into the meta build with strict=True;
    for a fit to the saved tree, whether they are that tree exactly (the names and shapes from_pretrained
    converts into the module)."""
    saved = fit.entry.get("form") == "saved"
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
