"""Configuration lint: values that load fine and then quietly change what the model computes.

Each finding says how bad it is, why it matters and what to do. Reads config.json only (never code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from archread.errors import ArchreadError

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    message: str
    why: str
    fix: str

    def to_json(self) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message, "why": self.why, "fix": self.fix}


def load_config(target: Path) -> tuple[Path, dict]:
    path = target / "config.json" if target.is_dir() else target
    if not path.is_file():
        raise ArchreadError(f"{target}: no config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchreadError(f"{path}: unreadable ({exc})") from None
    except ValueError as exc:
        raise ArchreadError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchreadError(f"{path}: not a model configuration (expected a JSON object)")
    return path, data


def _ids(value) -> set:
    return set(value) if isinstance(value, list) else {value} if value is not None else set()


def lint_config(cfg: dict) -> list[Finding]:
    out: list[Finding] = []
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    pad, eos = text.get("pad_token_id", cfg.get("pad_token_id")), _ids(text.get("eos_token_id", cfg.get("eos_token_id")))
    if pad is not None and pad in eos:
        out.append(Finding("warning", "pad-is-eos", f"pad_token_id {pad} is also an eos_token_id",
                           "collators mask padding out of the loss, so EOS is masked too: a fine-tuned model never "
                           "learns to stop, and padding-aware generation can stop early",
                           "give padding its own token id (an unused reserved token), or mask by attention_mask only"))
    window, context = text.get("sliding_window"), text.get("max_position_embeddings")
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            out.append(Finding("error", "window-nonpositive", f"sliding_window is {window}",
                               "no key would be visible", "set a positive window or null"))
        elif window > 2 and (window + 1) & window == 0:
            out.append(Finding("warning", "window-off-by-one", f"sliding_window {window} is 2^k−1",
                               "implementations disagree whether the window counts the query itself; a 2^k−1 value "
                               "usually means a 2^k window was converted once already, and one more conversion "
                               "shifts every sliding layer by a token",
                               f"check the reference implementation's convention; it is most likely {window + 1}"))
        if isinstance(context, int) and window >= context and text.get("use_sliding_window", True) is not False:
            out.append(Finding("info", "window-never-binds", f"sliding_window {window} ≥ max_position_embeddings {context}",
                               "the window never removes a key, so sliding layers are full attention",
                               "drop the window, or check max_position_embeddings"))
    acts = {k: text[k] for k in ("hidden_act", "hidden_activation") if text.get(k) is not None}
    if len(set(map(str, acts.values()))) > 1:
        out.append(Finding("warning", "activation-conflict",
                           f"hidden_act={acts['hidden_act']!r} but hidden_activation={acts['hidden_activation']!r}",
                           "each release of the modeling code reads one of the two (Gemma's changed between "
                           "releases), so the same checkpoint computes a different MLP depending on the version",
                           "set both to the activation the model was trained with"))
    heads, hidden, kv = text.get("num_attention_heads"), text.get("hidden_size"), text.get("num_key_value_heads")
    head_dim = text.get("head_dim")
    if isinstance(heads, int) and isinstance(hidden, int) and heads > 0:
        if head_dim is None and hidden % heads:
            out.append(Finding("error", "head-dim-indivisible", f"hidden_size {hidden} is not a multiple of "
                               f"num_attention_heads {heads}", "the code derives head_dim = hidden_size // heads and "
                               "the projections' shapes then disagree with the weights", "set head_dim explicitly"))
        elif isinstance(head_dim, int) and head_dim * heads != hidden:
            out.append(Finding("info", "head-dim-explicit", f"head_dim {head_dim} × {heads} heads = {head_dim * heads} "
                               f"≠ hidden_size {hidden}", "code that derives head_dim from hidden_size (older releases, "
                               "other runtimes) builds the wrong attention shapes", "make sure every runtime reads head_dim"))
        if isinstance(kv, int) and kv > 0 and heads % kv:
            out.append(Finding("error", "gqa-indivisible", f"num_attention_heads {heads} is not a multiple of "
                               f"num_key_value_heads {kv}", "grouped-query attention repeats each kv head a whole "
                               "number of times", "fix num_key_value_heads"))
    out += _rope(text)
    return out


def _rope(text: dict) -> list[Finding]:
    rope = text.get("rope_scaling") or text.get("rope_parameters")
    context = text.get("max_position_embeddings")
    if not isinstance(rope, dict):
        return []
    kind = rope.get("rope_type", rope.get("type", "default"))
    factor, original = rope.get("factor"), rope.get("original_max_position_embeddings")
    out = []
    if kind not in ("default", None) and factor is None and kind not in ("llama3",) or kind == "llama3" and factor is None:
        out.append(Finding("error", "rope-no-factor", f"rope type {kind!r} without a factor",
                           "the scaled frequencies cannot be computed", "add rope factor"))
    if isinstance(factor, (int, float)) and isinstance(original, int) and isinstance(context, int):
        if factor > 1 and original >= context:
            out.append(Finding("warning", "rope-scaling-idle", f"rope factor {factor} but the original context {original} "
                               f"≥ max_position_embeddings {context}", "dynamic/YaRN scaling only engages past the "
                               "original context, which this model never reaches", "raise max_position_embeddings to "
                               f"{int(original * factor)}, or drop the scaling"))
        elif abs(original * factor - context) > 1 and kind in ("yarn", "dynamic", "longrope"):
            out.append(Finding("info", "rope-context-mismatch", f"original {original} × factor {factor} = "
                               f"{int(original * factor)} ≠ max_position_embeddings {context}",
                               "YaRN's attention temperature and the scaled frequencies assume the product",
                               "make max_position_embeddings = original × factor"))
    return out
