"""The benchmark's judge of "one whose reduced math is identical": a candidate that is not the checkpoint's own
model type counts as right when, given the checkpoint and the fitted configuration, it computes the same logits
as the checkpoint's own class.

What the shapes cannot tell (norm eps, RoPE theta, multipliers, window, activation) is not the candidate's to
guess here: every field the candidate's configuration shares with the checkpoint's true one takes the true
value; a field only the candidate has keeps its default. So two model types count as the same exactly where
their equations agree once those facts are filled in. Both load the same safetensors through transformers'
own from_pretrained (its weight conversions included); a tensor either side leaves missing or unexpected, a
NaN, or logits apart by more than float32 noise is a different model.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from transformers import GenerationConfig

from archread.fit.layers import split_tree
from archread.fit.match import Candidate, fit_by_name, forms
from archread.parsers import resolve
from archread.runtime.original import find_original

_SAME = 1e-4  # max |Δ logit| of two float32 runs of one computation written two ways


def _classes(entry: dict):
    module, name = entry["config_class"]
    config_cls = getattr(importlib.import_module(module), name)
    return find_original(resolve(Path(entry["path"])), entry["root"]).model_class, config_cls


def _load(entry: dict, fields: dict, folder: Path):
    model_cls, config_cls = _classes(entry)
    config = config_cls.from_dict(fields)
    config._attn_implementation = "eager"
    torch.manual_seed(0)  # whatever a loader leaves random is the same draw on both sides, and reported anyway
    model, info = model_cls.from_pretrained(folder, config=config, output_loading_info=True, dtype=torch.float32,
                                                   generation_config=GenerationConfig())
    if any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        return None
    return model.eval()


def _logits(model, vocab: int) -> torch.Tensor:
    ids = torch.randint(0, vocab, (1, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits.float()


def named_fit(entry: dict, folder: Path, shapes: dict):
    """The candidate's fit of the named checkpoint (its better tree)."""
    tree = split_tree(shapes)
    return max((fit_by_name(tree, Candidate(form)) for form in forms(entry)), key=lambda f: (f.score, f.prior))


def same_math(candidate: dict, fitted: dict, true_entry: dict, true_config: Path, folder: Path) -> bool:
    """Whether `candidate` at the fitted values (the rest from the true configuration where it shares the field)
    computes what the checkpoint's own class computes."""
    truth = json.loads(true_config.read_text(encoding="utf-8"))
    try:
        original = _load(true_entry, truth, folder)
        own_fields = _classes(candidate)[1]().to_dict()
        shared = {k: v for k, v in truth.items() if k in own_fields and k not in ("model_type", "architectures")}
        other = _load(candidate, {**shared, **{k: v for k, v in fitted.items() if k != "model_type"}}, folder)
        if original is None or other is None:
            return False
        vocab = min(truth.get("vocab_size") or 128, 128)
        a, b = _logits(original, vocab), _logits(other, vocab)
    except Exception:  # noqa: BLE001 - a candidate that does not build or run at these values is not the same model
        return False
    return a.shape == b.shape and bool(torch.isfinite(a).all() and torch.isfinite(b).all()) \
        and float((a - b).abs().max()) <= _SAME
