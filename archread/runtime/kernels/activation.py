"""Activations, gated (act(gate)·up) or not: SiLU, GELU exact, GELU tanh, ReLU, ReLU².

Computed in float32 and rounded once. Gated inputs come as two tensors or as one fused
(…, 2·inter) tensor split in halves (gate first), as fused gate_up projections store them.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import KernelLimitError, check_dtype

ACTS = {"silu": 0, "gelu": 1, "gelu_tanh": 2, "relu": 3, "relu2": 4}
TUNE = {"block": 2048, "warps": 8}  # best on an H200 (benchmarks/kernels.py --sweep)


@triton.jit
def _act(x, ACT: tl.constexpr):
    if ACT == 0:
        return x * tl.sigmoid(x)
    elif ACT == 1:
        return 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))
    elif ACT == 2:  # ½x(1 + tanh u) = x·σ(2u): one exp and one division, as SiLU, and no 1 + tanh cancelling
        return x * tl.sigmoid(1.5957691216057308 * (x + 0.044715 * x * x * x))
    elif ACT == 3:
        return tl.maximum(x, 0.0)
    else:
        r = tl.maximum(x, 0.0)
        return r * r


@triton.jit
def _act_kernel(g_ptr, u_ptr, y_ptr, n_cols, tiles_per_row, g_stride, u_stride, y_stride,
                ACT: tl.constexpr, GATED: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    row = pid // tiles_per_row
    cols = (pid % tiles_per_row) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n_cols
    y = _act(tl.load(g_ptr + row * g_stride + cols, mask=mask, other=0.0).to(tl.float32), ACT)
    if GATED:
        y = y * tl.load(u_ptr + row * u_stride + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * y_stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def activation(gate: torch.Tensor, up: torch.Tensor | None = None, act: str = "silu", fused: bool = False):
    """act(gate)·up; with `fused`, gate holds [gate | up] in its last dimension; with neither, act(gate)."""
    if act not in ACTS:
        raise KernelLimitError(f"activation: {act!r} is not supported ({', '.join(ACTS)})")
    check_dtype("activation", gate, up)
    width = gate.shape[-1] // 2 if fused else gate.shape[-1]
    g2 = gate.reshape(-1, gate.shape[-1])
    if g2.stride(-1) != 1:
        g2 = g2.contiguous()
    if fused:
        if gate.shape[-1] % 2:
            raise KernelLimitError(f"activation: a fused gate_up width must be even, got {gate.shape[-1]}")
        g2, u2 = g2[:, :width], g2[:, width:]
    elif up is not None:
        if up.shape != gate.shape:
            raise KernelLimitError(f"activation: gate {tuple(gate.shape)} and up {tuple(up.shape)} differ")
        u2 = up.reshape(-1, width)
        if u2.stride(-1) != 1:
            u2 = u2.contiguous()
    else:
        u2 = g2
    if not fused and g2.is_contiguous() and u2.is_contiguous():  # one flat row: no per-row index arithmetic
        g2, u2 = g2.view(1, -1), u2.view(1, -1)
    y = torch.empty(g2.shape, dtype=gate.dtype, device=gate.device)
    block = TUNE["block"]
    tiles = triton.cdiv(g2.shape[1], block)
    _act_kernel[(g2.shape[0] * tiles,)](g2, u2, y, g2.shape[1], tiles, g2.stride(0), u2.stride(0), y.stride(0),
                      ACT=ACTS[act], GATED=fused or up is not None, BLOCK=block, num_warps=TUNE["warps"])
    return y.view(*gate.shape[:-1], width)
