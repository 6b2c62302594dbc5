"""The prelude's attention masks: transformers' mask builders as a reduced module calls them (causal, sliding
window, chunked, bidirectional), honouring a 2-D padding mask where one is passed. Re-exported by the prelude."""

from __future__ import annotations

import torch


def _reference(args, kwargs) -> torch.Tensor:
    """The (batch, seq, hidden) activations a mask is built for: the first floating 3-D tensor passed."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() == 3:
            return value
    raise TypeError("a mask needs the (batch, seq, hidden) input embeddings")


def _config(args, kwargs):
    if "config" in kwargs:
        return kwargs["config"]
    return next((a for a in args if hasattr(a, "num_attention_heads")), None)


def _is_padding(value, like: torch.Tensor) -> bool:
    return (isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(like.shape[:2])
            and bool(((value == 0) | (value == 1)).all()))


def _padding(args, kwargs, like: torch.Tensor) -> torch.Tensor | None:
    """The (batch, seq) keep-mask of a padded batch: the `attention_mask` handed to the mask builder (by keyword,
    or by position: the 2-D tensor of 0/1 shaped like the tokens), None where every token is real."""
    mask = kwargs.get("attention_mask")
    if mask is None:
        mask = next((a for a in args if _is_padding(a, like)), None)
    if not _is_padding(mask, like) or bool((mask != 0).all()):
        return None
    return (mask != 0).to(like.device)


def _additive(keep: torch.Tensor, like: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
    """Additive (batch, 1, query, key) mask from a (query, key) keep pattern; padded keys are masked too."""
    keep = keep[None].expand(like.shape[0], *keep.shape)
    if padding is not None:
        keep = keep & padding[:, None, :]
    mask = torch.zeros(keep.shape, dtype=like.dtype, device=like.device)
    return mask.masked_fill(~keep, torch.finfo(like.dtype).min)[:, None]


def _positions(like: torch.Tensor):
    idx = torch.arange(like.shape[1], device=like.device)
    return idx[:, None], idx[None, :]  # query, key


def create_causal_mask(*args, sliding_window=None, **kwargs):
    """Additive (batch, 1, seq, seq) mask: key ≤ query, and query − key < window when one is given."""
    like = _reference(args, kwargs)
    q, k = _positions(like)
    keep = k <= q
    if sliding_window is not None:
        keep = keep & (q - k < sliding_window)
    padding = _padding(args, kwargs, like)
    mask = _additive(keep, like, padding)
    if padding is None:  # lets a bound attention kernel know the mask without reading it (it knows no padding)
        mask.causal_window = sliding_window or 0
    return mask


def create_sliding_window_causal_mask(*args, **kwargs):
    """The window of config.sliding_window, unless the config says `use_sliding_window=False` (4.5x Qwen2
    keeps the window size and checks the flag in its mask code; later configs drop the size instead)."""
    config = _config(args, kwargs)
    window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
    return create_causal_mask(*args, sliding_window=window, **kwargs)


def create_causal_mask_window_inclusive(*args, sliding_window=None, **kwargs):
    """The sliding window of transformers' AttentionMaskConverter (4.3x-4.4x `_prepare_4d_causal_attention_mask`):
    a query sees its `sliding_window` previous keys and itself, one key more than `create_causal_mask`."""
    if sliding_window is None and len(args) > 4 and isinstance(args[4], int):  # passed by position
        sliding_window = args[4]
    return create_causal_mask(*args, sliding_window=None if sliding_window is None else sliding_window + 1, **kwargs)


def create_causal_mask_with_padding(*args, **kwargs):
    """(causal mask, 2-D padding mask): the pair a helper like 4.4x OPT's `_update_causal_mask` returns."""
    mask = create_causal_mask(*args, **kwargs)
    padding = _padding(args, kwargs, _reference(args, kwargs))
    return mask, torch.ones(mask.shape[0], mask.shape[-1], device=mask.device) if padding is None else padding.long()


def create_chunked_causal_mask(*args, **kwargs):
    """Causal within fixed chunks of attention_chunk_size tokens (Llama 4)."""
    like = _reference(args, kwargs)
    chunk = _config(args, kwargs).attention_chunk_size
    q, k = _positions(like)
    return _additive((k <= q) & (q // chunk == k // chunk), like, _padding(args, kwargs, like))


def create_padding_mask(config, attention_mask, *args, **kwargs):
    """The 2-D padding mask a recurrent or linear-attention layer multiplies its inputs by; None where every
    token is real (as transformers' `_update_mamba_mask` gives it)."""
    if isinstance(attention_mask, torch.Tensor) and attention_mask.dim() == 2 and bool((attention_mask == 0).any()):
        return attention_mask
    return None


create_recurrent_attention_mask = create_padding_mask


def create_bidirectional_mask(*args, **kwargs):
    """Every token sees every real token: no mask unless the batch is padded."""
    like = _reference(args, kwargs)
    padding = _padding(args, kwargs, like)
    if padding is None:
        return None
    return _additive(torch.ones(like.shape[1], like.shape[1], dtype=torch.bool, device=like.device), like, padding)


def create_bidirectional_sliding_window_mask(*args, **kwargs):
    like = _reference(args, kwargs)
    window = _config(args, kwargs).sliding_window
    q, k = _positions(like)
    return _additive((q - k).abs() < window, like, _padding(args, kwargs, like))


def maybe_autocast(device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
    """torch.autocast, for the blocks the original pins to full precision (enabled=False)."""
    return torch.autocast(device_type=device_type, dtype=dtype, enabled=enabled)


def _prepare_4d_attention_mask(mask, dtype, tgt_len=None):
    """Bidirectional padding mask: (batch, seq) of 1/0 → additive (batch, 1, tgt, seq)."""
    if mask is None:
        return None
    expanded = mask[:, None, None, :].to(dtype).expand(mask.shape[0], 1, tgt_len or mask.shape[-1], mask.shape[-1])
    return (1.0 - expanded).masked_fill((1.0 - expanded).bool(), torch.finfo(dtype).min)
