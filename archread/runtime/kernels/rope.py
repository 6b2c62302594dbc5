"""Rotary position embedding for q and k in one launch: half-split or interleaved pairs, full or partial.

Layout as the models hold it: q (batch, heads, seq, head_dim) with any strides and a unit last stride,
cos/sin (batch or 1, seq, rot) where rot ≤ head_dim is the rotary width (what a model's rotary module
returns). Dimensions past rot pass through. Each program rotates a tile of head rows taken in memory order
(heads inner when the heads are adjacent in memory, as after the usual view + transpose), so loads and
stores stream, each row read once as its two halves (or its even and odd elements).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import KernelLimitError, check_dtype

TUNE = {"rows": 32, "warps": 4}  # best on an H200 (benchmarks/kernels.py --sweep)


@triton.jit
def _rope_rows(x, y, cos, sin, tile, n_rows, n_inner, n_outer_in_batch, s_inner, s_outer, s_batch,
               o_inner, o_outer, o_batch, c_sb, c_ss, rot, head_dim,
               HEADS_INNER: tl.constexpr, INTERLEAVED: tl.constexpr, ROWS: tl.constexpr, BLOCK_H: tl.constexpr,
               BLOCK_P: tl.constexpr):
    r = tile * ROWS + tl.arange(0, ROWS)[:, None]
    inner = r % n_inner
    outer = (r // n_inner) % n_outer_in_batch
    batch = r // (n_inner * n_outer_in_batch)
    pos = outer if HEADS_INNER else inner
    src = x + batch * s_batch + outer * s_outer + inner * s_inner
    dst = y + batch * o_batch + outer * o_outer + inner * o_inner
    cs = batch * c_sb + pos * c_ss
    half = rot // 2
    j = tl.arange(0, BLOCK_H)[None, :]
    keep = (r < n_rows) & (j < half)
    if INTERLEAVED:
        ia, ib = 2 * j, 2 * j + 1
    else:
        ia, ib = j, j + half
    a = tl.load(src + ia, mask=keep, other=0.0, eviction_policy="evict_first").to(tl.float32)
    b = tl.load(src + ib, mask=keep, other=0.0, eviction_policy="evict_first").to(tl.float32)
    ca = tl.load(cos + cs + ia, mask=keep, other=0.0).to(tl.float32)
    cb = tl.load(cos + cs + ib, mask=keep, other=0.0).to(tl.float32)
    sa = tl.load(sin + cs + ia, mask=keep, other=0.0).to(tl.float32)
    sb = tl.load(sin + cs + ib, mask=keep, other=0.0).to(tl.float32)
    tl.store(dst + ia, (a * ca - b * sa).to(y.dtype.element_ty), mask=keep)
    tl.store(dst + ib, (b * cb + a * sb).to(y.dtype.element_ty), mask=keep)
    if BLOCK_P > 0:  # partial rotary: the dimensions past rot pass through
        d = rot + tl.arange(0, BLOCK_P)[None, :]
        rest = (r < n_rows) & (d < head_dim)
        tl.store(dst + d, tl.load(src + d, mask=rest, eviction_policy="evict_first"), mask=rest)


@triton.jit
def _rope_kernel(q, qo, k, ko, cos, sin, q_tiles, nq_rows, nk_rows, n_q, n_k, seq,
                 q_sb, q_sh, q_ss, qo_sb, qo_sh, qo_ss, k_sb, k_sh, k_ss, ko_sb, ko_sh, ko_ss, c_sb, c_ss,
                 rot, head_dim,
                 HEADS_INNER: tl.constexpr, INTERLEAVED: tl.constexpr, ROWS: tl.constexpr, BLOCK_H: tl.constexpr,
                 BLOCK_P: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    if HEADS_INNER:  # rows run (batch, position, head)
        if pid < q_tiles:
            _rope_rows(q, qo, cos, sin, pid, nq_rows, n_q, seq, q_sh, q_ss, q_sb, qo_sh, qo_ss, qo_sb, c_sb, c_ss,
                       rot, head_dim, HEADS_INNER, INTERLEAVED, ROWS, BLOCK_H, BLOCK_P)
        else:
            _rope_rows(k, ko, cos, sin, pid - q_tiles, nk_rows, n_k, seq, k_sh, k_ss, k_sb, ko_sh, ko_ss, ko_sb,
                       c_sb, c_ss, rot, head_dim, HEADS_INNER, INTERLEAVED, ROWS, BLOCK_H, BLOCK_P)
    else:  # rows run (batch, head, position)
        if pid < q_tiles:
            _rope_rows(q, qo, cos, sin, pid, nq_rows, seq, n_q, q_ss, q_sh, q_sb, qo_ss, qo_sh, qo_sb, c_sb, c_ss,
                       rot, head_dim, HEADS_INNER, INTERLEAVED, ROWS, BLOCK_H, BLOCK_P)
        else:
            _rope_rows(k, ko, cos, sin, pid - q_tiles, nk_rows, seq, n_k, k_ss, k_sh, k_sb, ko_ss, ko_sh, ko_sb,
                       c_sb, c_ss, rot, head_dim, HEADS_INNER, INTERLEAVED, ROWS, BLOCK_H, BLOCK_P)


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
    if cos.shape[0] not in (1, batch) or sin.shape != cos.shape:
        raise KernelLimitError(f"rope: cos/sin {tuple(cos.shape)} do not fit batch {batch}")
    cos, sin = cos.contiguous(), sin.contiguous()
    q, k = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k))
    qo, ko = torch.empty_like(q), torch.empty_like(k)
    heads_inner = q.stride(1) <= q.stride(2)
    rows = TUNE["rows"]
    q_tiles = triton.cdiv(q.numel() // head_dim, rows)
    grid = (q_tiles + triton.cdiv(k.numel() // head_dim, rows),)
    _rope_kernel[grid](
        q, qo, k, ko, cos, sin, q_tiles, q.numel() // head_dim, k.numel() // head_dim, n_q, k.shape[1], seq,
        q.stride(0), q.stride(1), q.stride(2), qo.stride(0), qo.stride(1), qo.stride(2),
        k.stride(0), k.stride(1), k.stride(2), ko.stride(0), ko.stride(1), ko.stride(2),
        cos.stride(0) if cos.shape[0] > 1 else 0, cos.stride(1), rot, head_dim,
        HEADS_INNER=heads_inner, INTERLEAVED=interleaved, ROWS=rows,
        BLOCK_H=triton.next_power_of_2(rot // 2),
        BLOCK_P=triton.next_power_of_2(head_dim - rot) if rot < head_dim else 0, num_warps=TUNE["warps"])
    return qo, ko
