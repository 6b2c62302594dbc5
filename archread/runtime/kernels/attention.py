"""Causal grouped-query attention, forward, flash style: online softmax in float32, never the full score matrix.

Options the corpus uses: a sliding window (key j visible from query i when i − j < window), tanh
softcapping of the scores (Gemma 2), and a custom scale (query_pre_attn_scalar, MLA's mscale…).
q (batch, q_heads, seq, head_dim), k/v (batch, kv_heads, seq, head_dim), any strides with a unit last
stride; the output is (batch, q_heads, seq, head_dim) laid out as (batch, seq, q_heads, head_dim), so the
model's following transpose and reshape cost nothing.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

from ._checks import KernelLimitError, check_dtype
from ._math import tanh

MAX_HEAD_DIM = 256
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"  # the interpreter multiplies 16-bit floats wrongly in tl.dot


@triton.jit
def _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, start_n, offs_m, offs_n, dmask, seq, scale, cap, window, s_kn, s_vn,
           MASK: tl.constexpr, SOFTCAP: tl.constexpr, WINDOW: tl.constexpr, PREC: tl.constexpr,
           UPCAST: tl.constexpr, BLOCK_N: tl.constexpr):
    cols = start_n + offs_n
    k = tl.load(k_ptrs + start_n * s_kn, mask=(cols < seq)[:, None] & dmask[None, :], other=0.0)
    if UPCAST:
        k = k.to(tl.float32)
    s = tl.dot(q, tl.trans(k), input_precision=PREC) * scale
    if SOFTCAP:
        s = cap * tanh(s / cap)
    s = s * 1.4426950408889634  # work in base 2
    if MASK:
        keep = (offs_m[:, None] >= cols[None, :]) & (cols < seq)[None, :]
        if WINDOW:
            keep = keep & (offs_m[:, None] - cols[None, :] < window)
        s = tl.where(keep, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    p = tl.exp2(s - m_new[:, None])
    alpha = tl.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(p, 1)
    v = tl.load(v_ptrs + start_n * s_vn, mask=(cols < seq)[:, None] & dmask[None, :], other=0.0)
    if UPCAST:
        v = v.to(tl.float32)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
    return acc, m_new, l_i


@triton.jit
def _attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, seq, n_heads, group, head_dim, scale, cap, window,
                      s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_ob, s_oh, s_om,
                      SOFTCAP: tl.constexpr, WINDOW: tl.constexpr, PREC: tl.constexpr, UPCAST: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    tl.static_assert(BLOCK_M % BLOCK_N == 0)
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1)
    b, h = (bh // n_heads).to(tl.int64), (bh % n_heads).to(tl.int64)
    kvh = h // group
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < head_dim
    q = tl.load(q_ptr + b * s_qb + h * s_qh + offs_m[:, None] * s_qm + offs_d[None, :],
                mask=(offs_m < seq)[:, None] & dmask[None, :], other=0.0)
    if UPCAST:
        q = q.to(tl.float32)
    k_ptrs = k_ptr + b * s_kb + kvh * s_kh + offs_n[:, None] * s_kn + offs_d[None, :]
    v_ptrs = v_ptr + b * s_vb + kvh * s_vh + offs_n[:, None] * s_vn + offs_d[None, :]
    m_i = tl.full([BLOCK_M], -1.0e30, tl.float32)  # finite, so a row with no visible key in a block stays 0
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    # key blocks: [lo, full) cut by the window's edge, [full, start_m) wholly visible, [start_m, end) the diagonal
    lo = 0
    full = 0
    if WINDOW:
        lo = tl.maximum(start_m - window + 1, 0) // BLOCK_N * BLOCK_N
        full = tl.minimum(tl.cdiv(tl.maximum(start_m + BLOCK_M - window, 0), BLOCK_N) * BLOCK_N, start_m)
        for start_n in range(lo, full, BLOCK_N):
            acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, start_n, offs_m, offs_n, dmask, seq, scale, cap,
                                   window, s_kn, s_vn, True, SOFTCAP, WINDOW, PREC, UPCAST, BLOCK_N)
    for start_n in range(full, start_m, BLOCK_N):
        acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, start_n, offs_m, offs_n, dmask, seq, scale, cap,
                               window, s_kn, s_vn, False, SOFTCAP, WINDOW, PREC, UPCAST, BLOCK_N)
    for start_n in range(start_m, tl.minimum(start_m + BLOCK_M, seq), BLOCK_N):
        acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, start_n, offs_m, offs_n, dmask, seq, scale, cap,
                               window, s_kn, s_vn, True, SOFTCAP, WINDOW, PREC, UPCAST, BLOCK_N)
    out = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]  # padding rows past the window see no key
    tl.store(o_ptr + b * s_ob + h * s_oh + offs_m[:, None] * s_om + offs_d[None, :], out.to(o_ptr.dtype.element_ty),
             mask=(offs_m < seq)[:, None] & dmask[None, :])


def _config(head_dim: int, dtype: torch.dtype) -> dict:
    """Tiles by head size: wide heads need smaller tiles to fit shared memory; the interpreter wants small ones."""
    if INTERPRETED:
        return dict(BLOCK_M=16, BLOCK_N=16, num_warps=1, num_stages=1)
    wide = head_dim > 128 or dtype == torch.float32
    if wide:
        return dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=2)
    if head_dim <= 64:
        return dict(BLOCK_M=128, BLOCK_N=64, num_warps=4, num_stages=3)
    return dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None,
              window: int | None = None, softcap: float | None = None) -> torch.Tensor:
    """softmax(q·kᵀ·scale, causal[, window][, softcap])·v, with kv heads shared by groups of q heads."""
    check_dtype("attention", q, k, v)
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4:
        raise KernelLimitError(f"attention: q, k, v must be (batch, heads, seq, head_dim), got "
                               f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    batch, n_heads, seq, head_dim = q.shape
    if k.shape[0] != batch or k.shape[2] != seq or k.shape[3] != head_dim or n_heads % k.shape[1]:
        raise KernelLimitError(f"attention: k/v {tuple(k.shape)} do not fit q {tuple(q.shape)} "
                               "(same batch, seq, head_dim; q heads a multiple of kv heads)")
    if head_dim > MAX_HEAD_DIM:
        raise KernelLimitError(f"attention: head_dim {head_dim} exceeds the limit of {MAX_HEAD_DIM}")
    if not (q.dtype == k.dtype == v.dtype):
        raise KernelLimitError(f"attention: q, k, v dtypes differ ({q.dtype}, {k.dtype}, {v.dtype})")
    if window is not None and window < 1:
        raise KernelLimitError(f"attention: sliding window must be ≥ 1, got {window}")
    q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
    out = torch.empty(batch, seq, n_heads, head_dim, dtype=q.dtype, device=q.device).transpose(1, 2)
    cfg = _config(head_dim, q.dtype)
    grid = (triton.cdiv(seq, cfg["BLOCK_M"]), batch * n_heads)
    _attention_kernel[grid](
        q, k, v, out, seq, n_heads, n_heads // k.shape[1], head_dim,
        float(scale if scale is not None else 1 / math.sqrt(head_dim)), float(softcap or 1.0),
        int(window or 0), *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *out.stride()[:3],
        SOFTCAP=softcap is not None, WINDOW=window is not None, UPCAST=INTERPRETED,
        PREC="ieee" if q.dtype == torch.float32 else "tf32", BLOCK_D=max(16, triton.next_power_of_2(head_dim)), **cfg)
    return out
