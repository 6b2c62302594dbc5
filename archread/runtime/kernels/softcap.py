"""Tanh softcapping, cap·tanh(x/cap), as Gemma 2 applies to attention scores and final logits."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import check_dtype
from ._math import HW_TANH, tanh_of

TUNE = {"block": 2048, "warps": 4, "hw_tanh": HW_TANH}  # best on an H200 (benchmarks/kernels.py --sweep)


@triton.jit
def _softcap_kernel(x_ptr, y_ptr, n, cap, BLOCK: tl.constexpr, HW: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    y = cap * tanh_of(x / cap, HW)
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


def softcap(x: torch.Tensor, cap: float) -> torch.Tensor:
    check_dtype("softcap", x)
    x = x.contiguous()
    y = torch.empty_like(x)
    block = TUNE["block"]
    _softcap_kernel[(triton.cdiv(x.numel(), block),)](x, y, x.numel(), float(cap), BLOCK=block, HW=bool(TUNE["hw_tanh"]), num_warps=TUNE["warps"])
    return y
