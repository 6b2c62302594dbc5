"""Rotary position embedding for q and k in one launch: half-split or interleaved pairs, full or partial.

Layout as the models hold it: q (batch, heads, seq, head_dim) with any strides and a unit last stride,
cos/sin (batch or 1, seq, rot) where rot ≤ head_dim is the rotary width (what a model's rotary module
returns). Dimensions past rot pass through. Each program takes a few positions with all their heads, so a
position's cos/sin is read once for every head, and each head row is read once as its two halves (or its
even and odd elements); any strides, so the usual view + transpose layout costs no copy.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import KernelLimitError, check_dtype

# positions per program, warps, and the loads' cache hint: q and k are read once, so they need not stay in L1
# ("evict_first") or need not enter it (".cg"); PTX takes one or the other. On the H200 no hint was best, by 4%
# (benchmarks/rope_tuning.py, benchmarks/kernels.py --sweep)
TUNE = {"positions": 1, "warps": None, "load": ""}  # warps None: _auto_warps
_LOAD_HINTS = {"evict_first": ("evict_first", ""), ".cg": ("", ".cg"), "": ("", "")}  # (eviction, cache modifier)


@triton.jit
def _rope_rows(x, p, n_pos, seq, n_heads, s_b, s_h, s_s, rot, head_dim, INTERLEAVED: tl.constexpr,
               HEADS: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_P: tl.constexpr, EVEN: tl.constexpr):
    """Positions p (P, 1, 1) × every head of x: the row pointers, the offsets of each rotary pair's two
    members and of the dimensions past rot, and their masks."""
    h = tl.arange(0, HEADS)[None, :, None]
    j = tl.arange(0, BLOCK_H)[None, None, :]
    at = (p < n_pos) & (h < n_heads)
    keep = (at & (j < BLOCK_H)) if EVEN else (at & (j < rot // 2))
    ia, ib = (2 * j, 2 * j + 1) if INTERLEAVED else (j, j + (BLOCK_H if EVEN else rot // 2))
    d = (2 * BLOCK_H if EVEN else rot) + tl.arange(0, BLOCK_P if BLOCK_P > 0 else 1)[None, None, :]
    rest = (at & (d < 2 * BLOCK_H + BLOCK_P)) if EVEN else (at & (d < head_dim))
    return x + (p // seq) * s_b + (p % seq) * s_s + h * s_h, ia, ib, keep, d, rest


@triton.jit
def _rope_load(x, p, n_pos, seq, n_heads, s_b, s_h, s_s, rot, head_dim, INTERLEAVED: tl.constexpr,
               HEADS: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_P: tl.constexpr, EVEN: tl.constexpr,
               EVICT: tl.constexpr, CACHE: tl.constexpr):
    """The two members of each rotary pair, and the dimensions past rot (partial rotary passes them through)."""
    src, ia, ib, keep, d, rest = _rope_rows(x, p, n_pos, seq, n_heads, s_b, s_h, s_s, rot, head_dim, INTERLEAVED,
                                            HEADS, BLOCK_H, BLOCK_P, EVEN)
    a = tl.load(src + ia, mask=keep, other=0.0, eviction_policy=EVICT, cache_modifier=CACHE)
    b = tl.load(src + ib, mask=keep, other=0.0, eviction_policy=EVICT, cache_modifier=CACHE)
    tail = a
    if BLOCK_P > 0:
        tail = tl.load(src + d, mask=rest, eviction_policy=EVICT, cache_modifier=CACHE)
    return a, b, tail


@triton.jit
def _rope_store(y, a, b, tail, ca, cb, sa, sb, p, n_pos, seq, n_heads, o_b, o_h, o_s, rot, head_dim,
                INTERLEAVED: tl.constexpr, HEADS: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_P: tl.constexpr,
                EVEN: tl.constexpr):
    dst, ia, ib, keep, d, rest = _rope_rows(y, p, n_pos, seq, n_heads, o_b, o_h, o_s, rot, head_dim, INTERLEAVED,
                                            HEADS, BLOCK_H, BLOCK_P, EVEN)
    af, bf = a.to(tl.float32), b.to(tl.float32)
    tl.store(dst + ia, (af * ca - bf * sa).to(y.dtype.element_ty), mask=keep)
    tl.store(dst + ib, (bf * cb + af * sb).to(y.dtype.element_ty), mask=keep)
    if BLOCK_P > 0:
        tl.store(dst + d, tail, mask=rest)


@triton.jit
def _rope_kernel(q, qo, k, ko, cos, sin, n_pos, seq, n_q, n_k,
                 q_sb, q_sh, q_ss, qo_sb, qo_sh, qo_ss, k_sb, k_sh, k_ss, ko_sb, ko_sh, ko_ss, c_sb, c_ss,
                 rot, head_dim, INTERLEAVED: tl.constexpr, P: tl.constexpr, HQ: tl.constexpr, HK: tl.constexpr,
                 BLOCK_H: tl.constexpr, BLOCK_P: tl.constexpr, EVEN: tl.constexpr, EVICT: tl.constexpr,
                 CACHE: tl.constexpr):
    """P positions of q and of k, all heads: their cos/sin rows read once for both, and every load issued
    before the first store (a store may alias a later load as far as the compiler knows, so it would wait).
    EVEN: rot/2 and head_dim − rot are the block widths, so no mask runs along a row and loads vectorise."""
    p = tl.program_id(0).to(tl.int64) * P + tl.arange(0, P)[:, None, None]
    j = tl.arange(0, BLOCK_H)[None, None, :]
    ia, ib = (2 * j, 2 * j + 1) if INTERLEAVED else (j, j + (BLOCK_H if EVEN else rot // 2))
    cs = (p // seq) * c_sb + (p % seq) * c_ss
    on = ((p < n_pos) & (j < BLOCK_H)) if EVEN else ((p < n_pos) & (j < rot // 2))
    qa, qb, qrest = _rope_load(q, p, n_pos, seq, n_q, q_sb, q_sh, q_ss, rot, head_dim, INTERLEAVED, HQ, BLOCK_H,
                               BLOCK_P, EVEN, EVICT, CACHE)
    ka, kb, krest = _rope_load(k, p, n_pos, seq, n_k, k_sb, k_sh, k_ss, rot, head_dim, INTERLEAVED, HK, BLOCK_H,
                               BLOCK_P, EVEN, EVICT, CACHE)
    ca = tl.load(cos + cs + ia, mask=on, other=0.0).to(tl.float32)
    cb = tl.load(cos + cs + ib, mask=on, other=0.0).to(tl.float32)
    sa = tl.load(sin + cs + ia, mask=on, other=0.0).to(tl.float32)
    sb = tl.load(sin + cs + ib, mask=on, other=0.0).to(tl.float32)
    _rope_store(qo, qa, qb, qrest, ca, cb, sa, sb, p, n_pos, seq, n_q, qo_sb, qo_sh, qo_ss, rot, head_dim,
                INTERLEAVED, HQ, BLOCK_H, BLOCK_P, EVEN)
    _rope_store(ko, ka, kb, krest, ca, cb, sa, sb, p, n_pos, seq, n_k, ko_sb, ko_sh, ko_ss, rot, head_dim,
                INTERLEAVED, HK, BLOCK_H, BLOCK_P, EVEN)


def _auto_warps(moved: int) -> int:
    """8 warps for a program that moves 16 KB or more, else 4: on the H200, Llama's q32/k8 rows (20 KB a
    program) ran best with 8 and Nemotron's rotary half rotated in place (14 KB) with 4."""
    return 8 if moved >= 16384 else 4


def apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = False,
               inplace: bool = False):
    """(q·cos + rotate(q)·sin, k·cos + rotate(k)·sin) over the first cos.shape[-1] dimensions.
    `inplace` writes into q and k (as Liger's RoPE does), so the dimensions past the rotary width are not
    touched at all; for callers that do not read q and k again."""
    check_dtype("rope", q, k, cos, sin)
    if q.dim() != 4 or k.dim() != 4:
        raise KernelLimitError(f"rope: q and k must be (batch, heads, seq, head_dim), got {tuple(q.shape)}, {tuple(k.shape)}")
    batch, n_q, seq, head_dim = q.shape
    if cos.dim() == 2:
        cos, sin = cos.unsqueeze(0), sin.unsqueeze(0)
    rot = cos.shape[-1]
    if rot % 2 or rot > head_dim or k.shape[-1] != head_dim or cos.shape[-2] != seq:
        raise KernelLimitError(f"rope: rotary width {rot} must be even and ≤ head_dim {head_dim}, for {seq} positions")
    if cos.shape[0] not in (1, batch) or sin.shape != cos.shape:
        raise KernelLimitError(f"rope: cos/sin {tuple(cos.shape)} do not fit batch {batch}")
    cos, sin = cos.contiguous(), sin.contiguous()
    if inplace and (q.stride(-1) != 1 or k.stride(-1) != 1):
        raise KernelLimitError("rope: in place needs q and k with a unit last stride")
    q, k = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k))
    qo, ko = (q, k) if inplace else (torch.empty_like(q), torch.empty_like(k))
    per = TUNE["positions"]
    block_h = triton.next_power_of_2(rot // 2)
    block_p = triton.next_power_of_2(head_dim - rot) if rot < head_dim and not inplace else 0
    _rope_kernel[(triton.cdiv(batch * seq, per),)](
        q, qo, k, ko, cos, sin, batch * seq, seq, n_q, k.shape[1],
        q.stride(0), q.stride(1), q.stride(2), qo.stride(0), qo.stride(1), qo.stride(2),
        k.stride(0), k.stride(1), k.stride(2), ko.stride(0), ko.stride(1), ko.stride(2),
        cos.stride(0) if cos.shape[0] > 1 else 0, cos.stride(1), rot, head_dim,
        INTERLEAVED=interleaved, P=per, HQ=triton.next_power_of_2(n_q), HK=triton.next_power_of_2(k.shape[1]),
        BLOCK_H=block_h, BLOCK_P=block_p, EVEN=rot // 2 == block_h and (block_p == 0 or head_dim - rot == block_p),
        EVICT=_LOAD_HINTS[TUNE["load"]][0], CACHE=_LOAD_HINTS[TUNE["load"]][1],
        num_warps=TUNE["warps"] or _auto_warps(2 * per * (n_q + k.shape[1]) * (head_dim if block_p or not inplace else rot)
                                               * q.element_size()))
    return qo, ko
