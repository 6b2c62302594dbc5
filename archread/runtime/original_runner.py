"""Run in a subprocess under another transformers release (PYTHONPATH puts it first): build a model's root
class on a tiny configuration with random weights, run it, and write what verify compares as safetensors.

    python -m archread.runtime.original_runner MODULE ROOT_CLASS OUT_DIR
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from importlib import metadata
from pathlib import Path

_HUB = {"transformers", "huggingface-hub", "tokenizers"}  # what the release brings its own of


def _hide_what_leans_on_another_hub() -> None:
    """Packages of this environment that require the hub, transformers or tokenizers but that the release did not
    bring (transformers 5.25 pulls in `kernels`, which imports names 4.52's hub lacks): the release's optional
    integrations would import them against its own, older hub. They are marked absent (`sys.modules[name] =
    None`: `find_spec` then says None and an import fails), so the release runs as if they were not installed."""
    release = Path(importlib.util.find_spec("transformers").origin).resolve().parents[1]
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())
        if name in _HUB or name == "archread" or Path(dist.locate_file("")).resolve() == release:
            continue
        needs = {re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-")
                 for r in dist.requires or () if "extra ==" not in r}
        if needs & _HUB:
            for top in (dist.read_text("top_level.txt") or "").split() or [name.replace("-", "_")]:
                sys.modules.setdefault(top, None)


_hide_what_leans_on_another_hub()

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from archread.runtime.compare import run_with_taps, watched  # noqa: E402
from archread.runtime.tiny import build_tiny, shrink, test_tokens  # noqa: E402


def main(module_name: str, root: str, out: Path) -> None:
    import transformers

    module = importlib.import_module(module_name)
    cls = getattr(module, root)
    config_class = getattr(cls, "config_class", None)
    if not getattr(config_class, "model_type", ""):
        model_type = module_name.rsplit(".", 1)[-1].removeprefix("modeling_")
        config_class = type(transformers.AutoConfig.for_model(model_type))
    model, cfg = build_tiny(cls, shrink(config_class()))
    model = model.float()
    tokens = torch.randint(0, cfg.vocab_size, (2, test_tokens()), generator=torch.Generator().manual_seed(0))
    names = watched(model)
    logits, taps = run_with_taps(model, tokens, names)
    save_file({k: v.clone().contiguous() for k, v in model.state_dict().items()}, out / "weights.safetensors")
    fresh = torch.contiguous_format  # a copy of its own, laid out plainly: safetensors takes neither views nor strides
    save_file({"tokens": tokens, "logits": logits.clone(memory_format=fresh),
               **{f"tap:{k}": v.clone(memory_format=fresh) for k, v in taps.items()}},
              out / "taps.safetensors")
    # what the code may read besides the fields: attribute_map aliases (hidden_size → n_embd), properties
    # (FalconConfig.rotary) and plain class attributes, private ones too (5.25 Emu3's `attention_bias = False`,
    # Lfm3's `_rope_type_labels`: not fields)
    plain = (int, float, str, bool, type(None), list, tuple, dict)
    derived = {}
    for name in getattr(cfg, "attribute_map", {}):
        try:
            derived[name] = getattr(cfg, name)
        except AttributeError:
            pass
    for name in dir(type(cfg)):
        if name.startswith("__") or not isinstance(getattr(type(cfg), name, None), (property, *plain)):
            continue
        try:
            value = getattr(cfg, name)
        except Exception:  # noqa: BLE001 - a property that needs more than the config has
            continue
        if isinstance(value, plain):
            derived[name] = value
    fields = {**derived, **cfg.to_dict(), "_archread_names": names}
    (out / "config.json").write_text(json.dumps(fields, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
