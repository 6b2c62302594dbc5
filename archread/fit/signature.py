"""A candidate's parameter tree written in its configuration's fields, from meta-device builds of its reduction.

The reduced model is built at archread's tiny configuration, then once per integer field with that field
doubled. Each axis of each tensor is then a size law: v(x) = Π (x_f / t_f)^e_f · (v0 + Σ a_g (x_g − t_g)),
where doubling f scales the axis by 2^e_f (heads × head_dim) or moves it by a_g t_g (a fused q/k/v axis,
(heads + 2 kv) × head_dim). One build with every such field tripled checks each law; an axis the law does
not predict is kept as unmodelled rather than guessed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import torch

from archread.errors import ArchreadError, one_line
from archread.fit.laws import predict
from archread.parsers.cache import reduce_cached
from archread.runtime.build import for_config, load_module
from archread.runtime.compare import eager
from archread.runtime.tiny import layer_fields

_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


class _Builder:
    def __init__(self, cls, tiny, module, root):
        self.cls, self.tiny, self.module, self.root = cls, tiny, module, root
        self.fields = tiny.to_dict()

    def config(self, changes: dict):
        cfg = type(self.tiny).from_dict({**self.fields, **changes})
        return eager(cfg)

    def build(self, changes: dict, device: str = "meta") -> dict[str, tuple[int, ...]]:
        cfg = self.config(changes)
        with torch.device(device):
            return _shapes(getattr(self.module, self.root)(cfg))


class _SavedBuilder(_Builder):
    """The tree as save_pretrained writes it: the original class on the meta device, its state dict put back
    into the checkpoint format by transformers' own reverse conversion (per-expert tensors for a fused expert
    bank, the original names of a renamed module)."""

    def build(self, changes: dict, device: str = "meta") -> dict[str, tuple[int, ...]]:
        from transformers.core_model_loading import revert_weight_conversion

        with torch.device("meta"):
            model = self.cls(self.config(changes))
        return {k: tuple(v.shape) for k, v in revert_weight_conversion(model, model.state_dict()).items()}


def _saved_form(builder: _Builder, base: dict, tied: dict) -> dict | None:
    """The saved tree with its own size laws, where it differs from the module's; None where it does not."""
    saved = _SavedBuilder(builder.cls, builder.tiny, builder.module, builder.root)
    try:
        shapes = saved.build({})
    except Exception:  # noqa: BLE001 - no reverse conversion for this class on meta: the module tree stands
        return None
    if shapes == base:
        return None
    laws, used, structural = size_laws(saved, shapes, "meta")
    _check(saved, laws, used, "meta")
    return {"tensors": {n: list(v) for n, v in shapes.items()}, "laws": laws, "tiny": used, "structural": structural,
            "tied": {k: v for k, v in tied.items() if k in shapes}}


def _perturbable(fields: dict) -> list[str]:
    return [k for k, v in fields.items() if type(v) is int and v >= 1 and "token_id" not in k and k not in _LAYER_KEYS]


def size_laws(builder: _Builder, base: dict, device: str) -> tuple[dict, dict, list[str]]:
    """(name -> per-axis law, field -> tiny value, fields that change which tensors exist)."""
    fields = builder.fields
    effects: dict[str, dict] = {}
    structural: list[str] = []
    for f in _perturbable(fields):
        try:
            shapes = builder.build({f: 2 * fields[f]}, device)
        except Exception:  # noqa: BLE001 - a doubling the configuration or the model refuses: no law from it
            continue
        if set(shapes) != set(base):
            structural.append(f)
            continue
        changed = {n: s for n, s in shapes.items() if s != base[n]}
        if changed:
            effects[f] = changed
    used = {f: fields[f] for f in effects}
    laws: dict[str, list] = {}
    for name, shape in base.items():
        axes = []
        for axis, v0 in enumerate(shape):
            exps, lin = {}, {}
            for f, changed in effects.items():
                if name not in changed or len(changed[name]) != len(shape) or changed[name][axis] == v0:
                    continue
                v1 = changed[name][axis]
                ratio = v1 / v0 if v0 else 0.0
                e = round(math.log2(ratio)) if ratio > 0 else None
                if e is not None and e != 0 and abs(ratio - 2.0 ** e) < 1e-9 and abs(e) <= 2:
                    exps[f] = e
                else:
                    lin[f] = (v1 - v0) / fields[f]
            axes.append([v0, exps, lin])
        laws[name] = axes
    return laws, used, structural


def _check(builder: _Builder, laws: dict, used: dict, device: str) -> None:
    """Mark the axes whose law a joint change of every used field does not predict (law becomes None)."""
    for factor in (3, 2):
        x = {f: factor * v for f, v in used.items()}
        try:
            shapes = builder.build(x, device)
        except Exception:  # noqa: BLE001 - try a gentler joint change
            continue
        for name, axes in laws.items():
            got = shapes.get(name)
            for axis, law in enumerate(axes):
                if law is not None and (got is None or len(got) != len(axes)
                                        or round(predict(law, {**used, **x}, used)) != got[axis]):
                    axes[axis] = None
        return
    for axes in laws.values():  # no joint build: only laws of one field at most are trusted
        for axis, law in enumerate(axes):
            if law is not None and len(law[1]) + len(law[2]) > 1:
                axes[axis] = None


def math_digest(code: str) -> str:
    """A digest of reduced code with the model's own name taken out of its class names (MistralMLP -> _MLP), so
    two architectures whose reductions differ only in that name share it: their reduced math is identical."""
    classes = re.findall(r"^class (\w+)", code, flags=re.M)
    prefix = classes[0] if classes else ""
    for name in classes[1:]:
        while prefix and not name.startswith(prefix):
            prefix = prefix[:-1]
    text = re.sub(rf"\b{re.escape(prefix)}(?=[A-Z_])", "_", code) if len(prefix) >= 2 else code
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain_defaults(cfg) -> dict:
    out = {}
    for k, v in cfg.to_dict().items():
        if isinstance(v, (bool, int, float, str, type(None))):
            out[k] = v
        elif isinstance(v, (dict, list)) and len(repr(v)) < 400:
            out[k] = v
    return out


def _layer_count(fields: dict) -> int | None:
    return next((fields[k] for k in _LAYER_KEYS if type(fields.get(k)) is int), None)


def per_layer_fields(default, tiny) -> dict:
    """The fields with one entry per layer (see tiny.layer_fields), at the tiny form and the defaults: what a fit
    sets from the kinds of layer the checkpoint holds."""
    fields, small = default.to_dict(), tiny.to_dict()
    layers, tiny_layers = _layer_count(fields), _layer_count(small)
    if not layers or not tiny_layers:
        return {}
    out = {}
    for kind, found in zip(("list", "dict", "indices"), layer_fields(fields, layers)):
        for name in found:
            value = small.get(name)
            if kind == "list" and not (isinstance(value, list) and len(value) == tiny_layers):
                continue
            if kind != "list" and not isinstance(value, type(fields[name])):
                continue
            spec = {"kind": kind, "tiny": value, "default": fields[name]}
            if kind == "dict":
                spec["int_keys"] = all(type(x) is int for x in fields[name])
                spec["tiny"] = {str(k): v for k, v in value.items()}
                spec["default"] = {str(k): v for k, v in fields[name].items()}
            try:
                json.dumps(spec)
            except (TypeError, ValueError):
                continue
            out[name] = spec
    return out


_MAX_TINY_PARAMETERS = 1e10  # a shrunk form still this large kept the released sizes in a section shrinking misses


def signature(source, transformers) -> dict:
    """Everything `fit` needs about one candidate, as plain JSON."""
    from archread.runtime.original import find_original
    from archread.runtime.tiny import shrink

    reduction = reduce_cached(source)
    if not reduction.roots:
        raise ArchreadError(f"{source.path}: no root model in the reduction")
    root = reduction.roots[0]
    original = find_original(source, root)
    cls = original.model_class
    config_class = original.config_class or type(transformers.AutoConfig.for_model(source.model_type))
    try:
        default = config_class()
        tiny = shrink(default)
    except Exception as exc:  # noqa: BLE001 - its class rejects the tiny configuration
        raise ArchreadError(f"{source.model_type}: no tiny configuration ({one_line(exc)})") from None
    eager(tiny)
    reduction = for_config(reduction, tiny)
    builder = _Builder(cls, tiny, load_module(reduction), root)
    device = "meta"
    try:
        base = builder.build({}, device)
    except Exception:  # noqa: BLE001 - an initialiser that reads values: the tiny build is small enough for the CPU
        device = "cpu"
        try:
            base = builder.build({}, device)
        except Exception as exc:  # noqa: BLE001
            raise ArchreadError(f"{source.model_type}: the reduced {root} does not build ({one_line(exc)})") from None
    if sum(math.prod(shape) for shape in base.values()) > _MAX_TINY_PARAMETERS:
        raise ArchreadError(f"{source.model_type}: no tiny configuration (the shrunk one keeps released sizes)")
    laws, used, structural = size_laws(builder, base, device)
    _check(builder, laws, used, device)
    fields = builder.fields
    tied = getattr(cls, "_tied_weights_keys", None) or {}
    if isinstance(tied, (list, tuple)):  # 4.x lists the tied outputs only: their input is the embedding
        tied = {k: None for k in tied}
    return {
        "model_type": source.model_type, "path": str(source.path), "root": root,
        "config_class": [config_class.__module__, config_class.__name__],
        "math": math_digest(reduction.code),
        "tensors": {n: list(s) for n, s in base.items()}, "laws": laws, "tiny": {**used},
        "tiny_fields": {k: v for k, v in fields.items() if isinstance(v, (bool, int, float, str, type(None)))},
        "layer_key": next((k for k in _LAYER_KEYS if type(fields.get(k)) is int), None),
        "structural": structural, "tied": {k: v for k, v in tied.items() if k in base},
        "defaults": _plain_defaults(default), "built_on": device, "per_layer": per_layer_fields(default, tiny),
        "saved": _saved_form(builder, base, tied),
    }
