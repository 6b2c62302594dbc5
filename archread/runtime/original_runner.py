"""Run in a subprocess under another transformers release (PYTHONPATH puts it first): build a model's root
class on a tiny configuration with random weights, run it, and write what verify compares as safetensors.

    python -m archread.runtime.original_runner MODULE ROOT_CLASS OUT_DIR
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from archread.runtime.compare import run_with_taps, watched
from archread.runtime.tiny import build_tiny, shrink, test_tokens


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
