"""verify for a modeling file of another transformers release: the original runs under that release in a
subprocess (runtime/release.py); the reduced model runs here on the weights and tokens it wrote."""

from __future__ import annotations

import copy
import json
import tempfile
import types
from pathlib import Path

import torch
from safetensors.torch import load_file

from archread.errors import ArchreadError, one_line
from archread.runtime.build import reduced_model
from archread.runtime.compare import WHOLE_MASK, real_token_logits, run_with_taps
from archread.runtime.cuda_paths import described, torch_path_values
from archread.runtime.original import repo_folder
from archread.runtime.release import NeedsCuda, release_site, run_original
from archread.runtime.report import has, judge, setup_of
from archread.runtime.weights import as_declared, load_into


def _text_config(config, decoder=None, encoder=None):
    """What PretrainedConfig.get_text_config gives: the one text section set (`text_config`, `decoder`, …), else
    the configuration itself."""
    names = ("text_encoder",) * (decoder is None or bool(encoder)) + ("decoder", "generator", "text_config") * (decoder is None or bool(decoder))
    found = [getattr(config, n) for n in names if getattr(config, n, None) is not None]
    if len(found) > 1:
        raise ValueError("several text configurations: get_text_config() is ambiguous")
    return found[0] if found else config


class ConfigView(types.SimpleNamespace):
    """The release's configuration as plain attributes (its class may not exist in this transformers)."""

    get_text_config = _text_config

    def __init__(self, **fields):
        overrides = fields.pop("per_layer_config", None)
        super().__init__(**{k: _dtype(k, _nested(v)) for k, v in fields.items()})
        if isinstance(overrides, dict):  # 5.25's heterogeneous layers, saved as {"03": {"head_dim": 512}}
            self.per_layer_config = _PerLayer(self, {int(k): v for k, v in overrides.items()})

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if not isinstance(v, _PerLayer)}


class _PerLayer:
    """`config.per_layer_config[i]` (5.25): layer i's configuration, the global one with that layer's overrides;
    by layer type, the one of its first layer."""

    def __init__(self, config: ConfigView, overrides: dict[int, dict]):
        self.config, self.overrides = config, overrides

    def __len__(self) -> int:
        return self.config.num_hidden_layers

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(len(self)))]
        if isinstance(key, str):
            key = list(self.config.layer_types).index(key)
        key = key + len(self) if key < 0 else key
        if not 0 <= key < len(self):
            raise IndexError("list index out of range")
        view = copy.copy(self.config)
        vars(view).update({"skip": [], **{k: _nested(v) for k, v in self.overrides.get(key, {}).items()}})
        return view


class _SubConfig(dict):
    """A nested configuration (MPT's attn_config): read as attributes by the model, still a dict."""

    get_text_config = _text_config

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        return dict(self)


_DTYPE_FIELDS = ("torch_dtype", "dtype")  # PretrainedConfig keeps a torch.dtype and saves its name ("float16")


def _dtype(name: str, value):
    if name in _DTYPE_FIELDS and isinstance(value, str) and isinstance(getattr(torch, value.removeprefix("torch."), None), torch.dtype):
        return getattr(torch, value.removeprefix("torch."))
    return value


def _nested(value):
    if isinstance(value, dict) and value and all(isinstance(k, str) and not k.isdigit() for k in value):
        return _SubConfig({k: _nested(v) for k, v in value.items()})
    return value


def verify_release(reduction, version: str, trust_code: bool = False, config: Path | None = None):
    """The original of another release, run under it in a subprocess; the reduced model here, on its weights."""
    source = reduction.source
    folder = repo_folder(source)
    if folder is None and not trust_code and not same_as_release(source, release_site(version)):
        raise ArchreadError(f"{source.path}: differs from transformers {version}'s own file; pass --trust-code to run it")
    if config is None and folder is not None and (folder / "config.json").is_file():
        config = folder / "config.json"
    spec = {"path": str(folder if folder is not None else source.path.absolute()), "file": str(source.path.absolute()),
            "root": reduction.roots[0], "config": str(config) if config else None,
            "torch_path": reduction.torch_path, "repaired": reduction.repaired, "assumed": reduction.assumed}
    out, chosen = _on_a_path_this_machine_runs(version, spec, source.path)
    fields = json.loads((out / "config.json").read_text())
    names = fields.pop("_archread_names")
    origin = fields.pop("_archread_origin")
    padded_note = fields.pop("_archread_padded")
    stood_in = fields.pop("_archread_stand_ins", {})
    weights_note = fields.pop("_archread_weights", None)
    cfg = ConfigView(**fields)
    reduced = reduced_model(reduction, cfg, folder)
    names = [n for n in names if has(reduced, n)]  # the original's dropout modules are gone, by design
    tied = load_into(reduced, as_declared(reduced, load_file(out / "weights.safetensors")))
    taps = load_file(out / "taps.safetensors")
    try:
        got_logits, got = run_with_taps(reduced.float(), taps["tokens"], names, taps.get("whole_mask"))
        padded = padded_note or (real_token_logits(reduced, taps["tokens"], taps["mask"]), taps["padded_logits"])
    except Exception as exc:
        raise ArchreadError(f"the reduced model does not run: {type(exc).__name__}: {one_line(exc)}") from None
    want = {k.removeprefix("tap:"): v for k, v in taps.items() if k.startswith("tap:")}
    setup = setup_of(cfg, taps["tokens"], None if padded_note else taps["mask"]) | ({"stand_ins": stood_in} if stood_in else {})
    if "whole_mask" in taps:
        setup["mask"] = WHOLE_MASK
    if weights_note:
        setup["weights"] = weights_note
    return judge(source.label, f"{reduction.roots[0]} ({origin}, subprocess{chosen})", "float32", "cpu",
                 names, (got_logits, got), (taps["logits"], want), [], tied, padded=padded, setup=setup)


def _on_a_path_this_machine_runs(version: str, spec: dict, modeling: Path) -> tuple[Path, str]:
    """run_original, and where the original asks for CUDA on the path its config.json chose, again on the torch
    path the configuration class's defaults choose (runtime/cuda_paths.py): its folder, and what was changed."""
    try:
        return run_original(version, spec), ""
    except NeedsCuda as exc:
        fields = json.loads(Path(spec["config"]).read_text()) if spec.get("config") else {}
        values = torch_path_values(modeling, fields)
        if not values:
            raise ArchreadError(f"{exc}: GPU-only (no configuration field its code tests leads off that path)") from None
        folder = Path(tempfile.mkdtemp(prefix="archread-torch-path-"))
        (folder / "config.json").write_text(json.dumps({**fields, **values}))
        out = run_original(version, {**spec, "config": str(folder / "config.json")})
        return out, f"; config.json's {described(values, fields)}: the checkpoint's choice needs CUDA, the default is the torch path"


def _inside(source) -> tuple[str, ...]:
    """The file's path from its `transformers` folder on: ('transformers', 'models', 'deprecated', …)."""
    parts = source.path.resolve().parts
    return parts[len(parts) - 1 - parts[::-1].index("transformers"):] if "transformers" in parts else ()


def same_as_release(source, site) -> bool:
    """The file is that release's own modeling file, byte for byte (so running it needs no --trust-code)."""
    inside = _inside(source)
    own = site.joinpath(*inside) if inside else None  # the same path inside the release (models/deprecated/…)
    return own is not None and own.is_file() and own.read_bytes() == source.path.read_bytes()
