"""RMSNorm and LayerNorm, optionally fused with the residual add before them.

One kernel covers every variant the corpus uses: weight offset 0 or 1 (Gemma's and Nemotron's `1 + w`),
bias or none, and both cast orders of RMSNorm (Llama rounds the normalised value to the input dtype and
then multiplies by the weight; Gemma multiplies in float32 and rounds once).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._checks import check_dtype, check_row, rows

# RMSNorm, LayerNorm; warps None: _auto_warps; chunk: the step along a row that is not a power of two wide
# (best on an H200, benchmarks/kernels.py --sweep and benchmarks/layernorm_width.py)
TUNE = {"warps": None, "rows": 1, "ln_warps": None, "ln_rows": 1, "chunk": 2048, "chunk_warps": 8}


@triton.jit
def _norm_kernel(x_ptr, res_ptr, w_ptr, b_ptr, y_ptr, sum_ptr, n_rows, n_cols, eps, offset,
                 x_stride, res_stride, y_stride, sum_stride,
                 RMS: tl.constexpr, HAS_RES: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                 ROUND_FIRST: tl.constexpr, ROWS: tl.constexpr, BLOCK: tl.constexpr, WIDE: tl.constexpr):
    row = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    if WIDE:  # offsets past 2**31 elements; 32-bit address math otherwise is a few instructions fewer a load
        row = row.to(tl.int64)
    row = row[:, None]
    cols = tl.arange(0, BLOCK)[None, :]
    mask = (cols < n_cols) & (row < n_rows)
    x = tl.load(x_ptr + row * x_stride + cols, mask=mask, other=0.0)
    # weight and bias are issued with x, so their latency hides behind the row's reduction
    if HAS_W:
        w = tl.load(w_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32) + offset
    if HAS_B:
        b = tl.load(b_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    if HAS_RES:
        # the residual stream is rounded to the activation dtype, as `residual + x` does in the model
        r = tl.load(res_ptr + row * res_stride + cols, mask=mask, other=0.0)
        x = (x.to(tl.float32) + r.to(tl.float32)).to(x.dtype)
        tl.store(sum_ptr + row * sum_stride + cols, x, mask=mask)
    xf = x.to(tl.float32)
    if RMS:
        var = tl.sum(xf * xf, axis=1) / n_cols
        normed = xf * tl.rsqrt(var + eps)[:, None]
    else:
        mean = tl.sum(xf, axis=1)[:, None] / n_cols
        centred = tl.where(mask, xf - mean, 0.0)
        var = tl.sum(centred * centred, axis=1) / n_cols
        normed = centred * tl.rsqrt(var + eps)[:, None]
    if ROUND_FIRST:
        normed = normed.to(x.dtype).to(tl.float32)
    if HAS_W:
        normed = normed * w
    if HAS_B:
        normed = normed + b
    tl.store(y_ptr + row * y_stride + cols, normed.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _norm_chunked_kernel(x_ptr, res_ptr, w_ptr, b_ptr, y_ptr, sum_ptr, n_cols, eps, offset,
                         x_stride, res_stride, y_stride, sum_stride,
                         RMS: tl.constexpr, HAS_RES: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                         ROUND_FIRST: tl.constexpr, CHUNK: tl.constexpr, CHUNKS: tl.constexpr):
    """One row walked in power-of-two chunks, for widths one block would pad (6144 in an 8192 block leaves a
    quarter of the lanes idle): the sums first, then the output, reading the chunks again from cache."""
    row = tl.program_id(0).to(tl.int64)
    if HAS_RES:  # the row normalised: the sum, once pass one has stored it
        src, stride = sum_ptr, sum_stride
    else:
        src, stride = x_ptr, x_stride
    first = tl.zeros([CHUNK], tl.float32)
    for c in tl.static_range(CHUNKS):
        cols = c * CHUNK + tl.arange(0, CHUNK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * x_stride + cols, mask=mask, other=0.0)
        if HAS_RES:
            x = (x.to(tl.float32) + tl.load(res_ptr + row * res_stride + cols, mask=mask, other=0.0).to(tl.float32)).to(x.dtype)
            tl.store(sum_ptr + row * sum_stride + cols, x, mask=mask)
        xf = x.to(tl.float32)
        first += xf * xf if RMS else xf
    if RMS:
        mean = 0.0
        rstd = tl.rsqrt(tl.sum(first) / n_cols + eps)
    else:
        mean = tl.sum(first) / n_cols
        second = tl.zeros([CHUNK], tl.float32)
        for c in tl.static_range(CHUNKS):
            cols = c * CHUNK + tl.arange(0, CHUNK)
            mask = cols < n_cols
            d = tl.where(mask, tl.load(src + row * stride + cols, mask=mask, other=0.0).to(tl.float32) - mean, 0.0)
            second += d * d
        rstd = tl.rsqrt(tl.sum(second) / n_cols + eps)
    for c in tl.static_range(CHUNKS):
        cols = c * CHUNK + tl.arange(0, CHUNK)
        mask = cols < n_cols
        x = tl.load(src + row * stride + cols, mask=mask, other=0.0)
        normed = (x.to(tl.float32) - mean) * rstd
        if ROUND_FIRST:
            normed = normed.to(x.dtype).to(tl.float32)
        if HAS_W:
            normed = normed * (tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32) + offset)
        if HAS_B:
            normed = normed + tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * y_stride + cols, normed.to(y_ptr.dtype.element_ty), mask=mask)


def _auto_warps(rms: bool, block: int) -> int:
    """A warp per 512 columns of an RMSNorm row (8 at 4096: 69.5–70.1 µs against 71.2–71.7 at 4 on an H200,
    benchmarks/rmsnorm_tuning.py), per 1,024 of a LayerNorm row (benchmarks/layernorm_width.py)."""
    return min(16, max(4, block // (512 if rms else 1024)))


def _launch(op, x, weight, bias, eps, offset, residual, rms, round_first, out_dtype):
    check_dtype(op, x, weight, bias, residual)
    n = x.shape[-1]
    block = check_row(op, n)
    x2 = rows(x)
    res2 = rows(residual) if residual is not None else x2
    y = torch.empty(x2.shape, dtype=out_dtype or x.dtype, device=x.device)
    total = torch.empty_like(x2) if residual is not None else y
    n_rows, w, b = x2.shape[0], weight if weight is not None else x2, bias if bias is not None else x2
    strides = (x2.stride(0), res2.stride(0), y.stride(0), total.stride(0))
    wide = n_rows * max(strides) >= 2**31
    flags = dict(RMS=rms, HAS_RES=residual is not None, HAS_W=weight is not None, HAS_B=bias is not None,
                 ROUND_FIRST=round_first)
    if block != n and n > TUNE["chunk"]:  # padded to a power of two, a quarter or more of the lanes would idle
        _norm_chunked_kernel[(n_rows,)](x2, res2, w, b, y, total, n, eps, float(offset), *strides, **flags,
                                        CHUNK=TUNE["chunk"], CHUNKS=triton.cdiv(n, TUNE["chunk"]),
                                        num_warps=TUNE["chunk_warps"])
    else:
        prefix = "" if rms else "ln_"  # LayerNorm's second reduction makes it tune differently
        per, warps = TUNE[prefix + "rows"], TUNE[prefix + "warps"]
        _norm_kernel[(triton.cdiv(n_rows, per),)](x2, res2, w, b, y, total, n_rows, n, eps, float(offset), *strides,
                                                  **flags, ROWS=per, BLOCK=block, WIDE=wide,
                                                  num_warps=warps or _auto_warps(rms, block))
    y = y.view(x.shape)
    return (total.view(x.shape), y) if residual is not None else y


def rms_norm(x, weight, eps=1e-6, offset=0.0, round_first=True, residual=None, out_dtype=None):
    """weight·x/rms(x). `round_first`: round x/rms(x) to x's dtype before the weight (Llama) or not (Gemma).
    With `residual`, returns (x + residual, norm(x + residual))."""
    return _launch("rms_norm", x, weight, None, eps, offset, residual, True, round_first, out_dtype)


def layer_norm(x, weight, bias=None, eps=1e-5, offset=0.0, residual=None, out_dtype=None):
    """(x - mean)/std·(weight + offset) + bias; offset 1 is Nemotron's LayerNorm1P.
    With `residual`, returns (x + residual, norm(x + residual))."""
    return _launch("layer_norm", x, weight, bias, eps, offset, residual, False, False, out_dtype)
