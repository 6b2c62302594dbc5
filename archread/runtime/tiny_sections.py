"""Refinements of the tiny configuration (runtime/tiny.py): sizes inside plain dict sections the model unpacks,
sizes the code divides by a literal, kept multiples of it, and the fields a configuration is rebuilt from."""

from __future__ import annotations

import inspect

LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
_SECTION_TINY = {"width": 64, "layers": 2, "depth": 2, **dict.fromkeys(LAYER_COUNT_KEYS, 2)}
_WIDTHS = ("hidden_size", "n_embd", "d_model", "dim", "model_dim")
_HEADS = ("num_attention_heads", "n_head", "n_heads", "num_heads")


_UNSET = object()


def rebuildable_fields(config) -> dict:
    """config.to_dict(), which the class rebuilds from; where it cannot (DBRX's sections reject the fields the base
    class adds to their dicts), with each sub-configuration as the values of its class's own arguments, and, where
    the class itself rejects the base fields, its own arguments too."""
    fields = config.to_dict()
    if _rebuilds(config, fields):
        return fields
    lean = dict(fields)
    for name, value in fields.items():
        try:
            sub = getattr(config, name, None) if isinstance(value, dict) else None
            if sub is not None and sub is not config and callable(getattr(sub, "to_dict", None)):
                lean[name] = _own_arguments(sub)
        except Exception:  # noqa: BLE001 - that section stays as it was
            continue
    if _rebuilds(config, lean):
        return lean
    own = {**_own_arguments(config), **{k: v for k, v in lean.items() if isinstance(v, dict) and k in _own_arguments(config)}}
    return own if _rebuilds(config, own) else fields


def _own_arguments(config) -> dict:
    """The configuration's values of its class's own __init__ parameters, nothing the base class adds."""
    try:
        params = inspect.signature(type(config).__init__).parameters
    except (TypeError, ValueError):
        return {}
    values = config.to_dict()
    return {k: values[k] for k, p in params.items() if k in values and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _rebuilds(config, fields: dict) -> bool:
    try:
        type(config).from_dict(fields)
        return True
    except Exception:  # noqa: BLE001 - the classes' validators raise their own error types
        return False


def config_sections(config, fields: dict, shrunk) -> dict:
    """Sub-configurations the class keeps as configuration objects without declaring them (InternVL's
    `self.llm_config = LlamaConfig(**llm_config)`, its vision tower's beside it): each shrunk by its own class
    (`shrunk`), and given back as the dict the outer class builds it from."""
    out = {}
    for name, section in fields.items():
        try:  # only a dict section can be one; Gemma-4 raises its own error on some reads (per-layer fields)
            sub = getattr(config, name, None) if isinstance(section, dict) else None
        except Exception:  # noqa: BLE001
            continue
        if sub is not None and sub is not config and callable(getattr(sub, "to_dict", None)) \
                and callable(getattr(type(sub), "from_dict", None)):
            try:  # the values the shrinking changed, not every field the base class adds (DBRX's sections reject them)
                before, after = rebuildable_fields(sub), rebuildable_fields(shrunk(sub))
            except Exception:  # noqa: BLE001 - a section its class will not shrink stays as given
                continue
            out[name] = {**section, **{k: v for k, v in after.items() if k in section or before.get(k, _UNSET) != v}}
    return out


def plain_sections(config, fields: dict, changes: dict, tiny_of) -> dict:
    """Sizes inside a plain dict section the model unpacks (Qwen-VL's `visual`: `VisionTransformer(**config.visual)`,
    48 layers 1664 wide): shrunk by the names the top level uses (`tiny_of`), plus the words such sections use
    (width, layers, depth); an entry equal to the model's width (the tower's output_dim) follows the width.
    Sub-configurations the class builds as objects (text_config) are left to their own class."""
    widths = {fields[k]: changes[k] for k in _WIDTHS if isinstance(fields.get(k), int) and isinstance(changes.get(k), int)}
    out = {}
    for name, section in fields.items():
        if not isinstance(section, dict) or not isinstance(getattr(config, name, None), dict) or "layer" in name:
            continue
        section = changes.get(name, section)
        shrunk = {}
        for key, value in section.items():
            if not isinstance(key, str) or type(value) is not int or key.endswith(("id", "ids")):
                continue
            tiny = tiny_of(key) or _SECTION_TINY.get(key)
            if tiny is None and value in widths and any(w in key for w in ("dim", "size", "width", "hidden")):
                tiny = widths[value]
            if tiny is not None and value > tiny:
                shrunk[key] = tiny
        if shrunk:
            out[name] = {**section, **shrunk}
    return out


def divisible(fields: dict, changes: dict, divisors: dict[str, int]) -> None:
    """Tiny values the code divides by a literal become a multiple of it (never above the original); a plain
    section's entry that follows the model's width takes the width along, and the head size with it."""
    def fit(key, tiny, full):
        d = divisors.get(key)
        return min(full, -(-tiny // d) * d) if d and tiny % d and full >= d else tiny
    for key, tiny in list(changes.items()):
        if type(tiny) is int and type(fields.get(key)) is int:
            changes[key] = fit(key, tiny, fields[key])
    widths = [k for k in _WIDTHS if type(changes.get(k)) is int]
    for name, section in list(changes.items()):
        if not isinstance(section, dict) or not isinstance(fields.get(name), dict):
            continue
        for key, tiny in section.items():
            full = fields[name].get(key)
            if type(tiny) is int and type(full) is int and fit(key, tiny, full) != tiny:
                follows = [w for w in widths if fields[w] == full and changes[w] == tiny]
                section[key] = fit(key, tiny, full)
                changes.update(dict.fromkeys(follows, section[key]))
                if follows:
                    _heads_follow(fields, changes, full, section[key])


def _heads_follow(fields: dict, changes: dict, width: int, tiny_width: int) -> None:
    """A head size that was width / heads in the full configuration (Qwen's kv_channels) stays so at the new width."""
    heads_key = next((k for k in _HEADS if type(changes.get(k)) is int), None)
    for key in ("head_dim", "kv_channels", "attention_head_dim"):
        if heads_key and type(fields.get(key)) is int and fields[key] * fields[heads_key] == width:
            changes[key] = tiny_width // changes[heads_key]
