"""Weight lint: what config.json cannot show (untrained rows, NaN/Inf, fused tensors, a missing or extra head)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from archread.errors import ArchreadError
from archread.parsers.lint import Finding
from archread.runtime.weights import weight_files

FUSED = ("qkv_proj", "query_key_value", "wqkv", "c_attn", "gate_up_proj", "w13")


def lint_weights(folder: Path, cfg: dict) -> list[Finding]:
    out: list[Finding] = []
    tensors: dict[str, tuple] = {}
    embed = None
    for path in weight_files(folder):
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    t = f.get_tensor(key)
                    tensors[key] = tuple(t.shape)
                    if t.is_floating_point() and not torch.isfinite(t).all():
                        bad = int((~torch.isfinite(t)).sum())
                        out.append(Finding("error", "non-finite", f"{key}: {bad} NaN/Inf values",
                                           "one NaN spreads to every logit", "re-export the checkpoint"))
                    if embed is None and t.dim() == 2 and any(w in key for w in ("embed_tokens", "wte", "word_embeddings")):
                        embed = (key, t.float())
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ArchreadError(f"{path}: unreadable safetensors file ({str(exc).splitlines()[0]})") from None
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    if embed is not None:
        key, weights = embed
        rows = weights.shape[0]
        if isinstance(text.get("vocab_size"), int) and text["vocab_size"] != rows:
            out.append(Finding("warning", "vocab-rows", f"vocab_size {text['vocab_size']} but {key} has {rows} rows",
                               "token ids past the smaller one index garbage or fail", "align vocab_size with the embedding"))
        norms = weights.norm(dim=1)
        typical = norms.median()
        weak = torch.nonzero(norms < 1e-3 * typical.clamp_min(1e-12)).flatten().tolist()
        if weak:
            shown = ", ".join(map(str, weak[:12])) + (" …" if len(weak) > 12 else "")
            out.append(Finding("warning", "untrained-rows", f"{len(weak)} embedding rows of near-zero norm: ids {shown}",
                               "these tokens were never trained (reserved/special tokens, as in base Llama 3): "
                               "fine-tuning on them starts from zero and gives NaN or garbage under low precision",
                               "initialise them to the mean embedding before fine-tuning, or never emit them"))
    head = [k for k in tensors if k.endswith("lm_head.weight") or k.endswith("embed_out.weight")]
    tied = text.get("tie_word_embeddings", cfg.get("tie_word_embeddings"))
    if tied is True and head:
        out.append(Finding("warning", "tied-but-head", f"tie_word_embeddings is true but the weights hold {head[0]}",
                           "loading ties the head to the embedding and silently drops the stored head",
                           "set tie_word_embeddings to false if the head was trained separately"))
    if tied is False and not head and embed is not None:
        out.append(Finding("error", "untied-no-head", "tie_word_embeddings is false and the weights hold no lm_head",
                           "the head will be randomly initialised", "set tie_word_embeddings to true, or add the head"))
    fused = sorted({k for k in tensors if any(f in k.lower() for f in FUSED)})
    if fused:
        out.append(Finding("info", "fused-tensors", f"{len(fused)} fused projection tensors, e.g. {fused[0]}",
                           "runtimes that expect separate q/k/v or gate/up need them split in the checkpoint's "
                           "order", "split along the output dimension in the order the modeling code uses"))
    return out
