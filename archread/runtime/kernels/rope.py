"""Rotary position embedding for q and k in one launch: half-split or interleaved pairs, full or partial.

Layout as the models hold it: q (batch, heads, seq, head_dim) with any strides, cos/sin (batch, seq, rot)
where rot ≤ head_dim is the rotary width (the cos/sin a model's rotary module returns). Dimensions past
rot pass through unchanged. One program per (batch, position) reads that position's cos/sin once and
rotates every q and k head.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import KernelLimitError, check_dtype


@triton.jit
def _rotate(src, dst, s_h, d_h, n_heads, cos_a, sin_a, cos_b, sin_b, head_dim,
            HALF: tl.constexpr, INTERLEAVED: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr):
    heads = tl.arange(0, BLOCK_H)[:, None]
    pair = tl.arange(0, BLOCK_D)[None, :]
    hm = heads < n_heads
    pm = pair < HALF
    if INTERLEAVED:
        ia, ib = 2 * pair, 2 * pair + 1
    else:
        ia, ib = pair, pair + HALF
    a = tl.load(src + heads * s_h + ia, mask=hm & pm, other=0.0).to(tl.float32)
    b = tl.load(src + heads * s_h + ib, mask=hm & pm, other=0.0).to(tl.float32)
    tl.store(dst + heads * d_h + ia, (a * cos_a - b * sin_a).to(dst.dtype.element_ty), mask=hm & pm)
    tl.store(dst + heads * d_h + ib, (b * cos_b + a * sin_b).to(dst.dtype.element_ty), mask=hm & pm)
    if 2 * HALF < head_dim:  # partial rotary: copy the rest through
        rest = 2 * HALF + tl.arange(0, BLOCK_D * 2)[None, :]
        rm = hm & (rest < head_dim)
        tl.store(dst + heads * d_h + rest, tl.load(src + heads * s_h + rest, mask=rm), mask=rm)


@triton.jit
def _rope_kernel(q, k, qo, ko, cos, sin, seq,
                 q_sb, q_sh, q_ss, k_sb, k_sh, k_ss, qo_sb, qo_sh, qo_ss, ko_sb, ko_sh, ko_ss, c_sb, c_ss,
                 n_q, n_k, head_dim,
                 HALF: tl.constexpr, INTERLEAVED: tl.constexpr,
                 BLOCK_Q: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    bi, si = pid // seq, pid % seq
    pair = tl.arange(0, BLOCK_D)[None, :]
    pm = pair < HALF
    base = cos + bi * c_sb + si * c_ss
    if INTERLEAVED:
        ia, ib = 2 * pair, 2 * pair + 1
    else:
        ia, ib = pair, pair + HALF
    cos_a = tl.load(base + ia, mask=pm, other=0.0).to(tl.float32)
    cos_b = tl.load(base + ib, mask=pm, other=0.0).to(tl.float32)
    base = sin + bi * c_sb + si * c_ss
    sin_a = tl.load(base + ia, mask=pm, other=0.0).to(tl.float32)
    sin_b = tl.load(base + ib, mask=pm, other=0.0).to(tl.float32)
    _rotate(q + bi * q_sb + si * q_ss, qo + bi * qo_sb + si * qo_ss, q_sh, qo_sh, n_q,
            cos_a, sin_a, cos_b, sin_b, head_dim, HALF, INTERLEAVED, BLOCK_Q, BLOCK_D)
    _rotate(k + bi * k_sb + si * k_ss, ko + bi * ko_sb + si * ko_ss, k_sh, ko_sh, n_k,
            cos_a, sin_a, cos_b, sin_b, head_dim, HALF, INTERLEAVED, BLOCK_K, BLOCK_D)


def apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = False):
    """(q·cos + rotate(q)·sin, k·cos + rotate(k)·sin) over the first cos.shape[-1] dimensions."""
    check_dtype("rope", q, k, cos, sin)
    if q.dim() != 4 or k.dim() != 4:
        raise KernelLimitError(f"rope: q and k must be (batch, heads, seq, head_dim), got {tuple(q.shape)}, {tuple(k.shape)}")
    batch, n_q, seq, head_dim = q.shape
    if cos.dim() == 2:
        cos, sin = cos.unsqueeze(0), sin.unsqueeze(0)
    rot = cos.shape[-1]
    if rot % 2 or rot > head_dim or k.shape[-1] != head_dim or cos.shape[-2] != seq:
        raise KernelLimitError(f"rope: rotary width {rot} must be even and ≤ head_dim {head_dim}, for {seq} positions")
    cos, sin = cos.expand(batch, seq, rot), sin.expand(batch, seq, rot)
    if cos.stride(-1) != 1 or sin.stride() != cos.stride():
        cos, sin = cos.contiguous(), sin.contiguous()
    if q.stride(-1) != 1:
        q = q.contiguous()
    if k.stride(-1) != 1:
        k = k.contiguous()
    qo, ko = torch.empty_like(q), torch.empty_like(k)
    half = rot // 2
    _rope_kernel[(batch * seq,)](
        q, k, qo, ko, cos, sin, seq,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        qo.stride(0), qo.stride(1), qo.stride(2), ko.stride(0), ko.stride(1), ko.stride(2),
        cos.stride(0), cos.stride(1), n_q, k.shape[1], head_dim,
        HALF=half, INTERLEAVED=interleaved, BLOCK_Q=triton.next_power_of_2(n_q),
        BLOCK_K=triton.next_power_of_2(k.shape[1]), BLOCK_D=triton.next_power_of_2(max(half, head_dim - rot)),
        num_warps=4)
    return qo, ko
