"""Why LayerNorm1P at hidden 6144 runs below RMSNorm at 4096: one row in one block pads 6144 to 8192.
Times the launcher's kernel at 4096/6144/8192 against a kernel that walks the row in power-of-two chunks
(sums first, then normalises, reloading chunks from cache), beside a device copy in the same run.

    python benchmarks/layernorm_width.py
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from archread.runtime import kernels as K


@triton.jit
def _ln_chunked(x_ptr, w_ptr, y_ptr, n_cols, eps, offset, stride, BLOCK: tl.constexpr, CHUNKS: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * stride
    total = tl.zeros([BLOCK], tl.float32)
    for c in tl.static_range(CHUNKS):
        cols = c * BLOCK + tl.arange(0, BLOCK)
        total += tl.load(x_ptr + base + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    mean = tl.sum(total) / n_cols
    squares = tl.zeros([BLOCK], tl.float32)
    for c in tl.static_range(CHUNKS):
        cols = c * BLOCK + tl.arange(0, BLOCK)
        d = tl.where(cols < n_cols, tl.load(x_ptr + base + cols, mask=cols < n_cols, other=0.0).to(tl.float32) - mean, 0.0)
        squares += d * d
    rstd = tl.rsqrt(tl.sum(squares) / n_cols + eps)
    for c in tl.static_range(CHUNKS):
        cols = c * BLOCK + tl.arange(0, BLOCK)
        m = cols < n_cols
        x = tl.load(x_ptr + base + cols, mask=m, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=m, other=0.0).to(tl.float32) + offset
        tl.store(y_ptr + base + cols, ((x - mean) * rstd * w).to(y_ptr.dtype.element_ty), mask=m)


def chunked(x, w, block, warps):
    y = torch.empty_like(x)
    _ln_chunked[(x.shape[0],)](x, w, y, x.shape[1], 1e-5, 1.0, x.stride(0), BLOCK=block,
                               CHUNKS=triton.cdiv(x.shape[1], block), num_warps=warps)
    return y


def main() -> None:
    bench = lambda fn: triton.testing.do_bench(fn, warmup=25, rep=200)  # noqa: E731
    src = torch.randn(1 << 28, device="cuda", dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    copy = 2 * src.numel() * 2 / bench(lambda: dst.copy_(src)) / 1e6
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__} triton {triton.__version__}; copy {copy:,.0f} GB/s")
    for width in (4096, 6144, 8192):
        x = torch.randn(16384, width, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(width, device="cuda", dtype=torch.bfloat16) * 0.1
        want = torch.nn.functional.layer_norm(x.float(), (width,), w.float() + 1, None, 1e-5)
        moved = 2 * x.numel() * 2
        rows = [("launcher", lambda: K.layer_norm(x, w, None, 1e-5, 1.0))]
        rows += [("rms launcher", lambda: K.rms_norm(x, w))]
        rows += [(f"chunked {b}/{wp}w", (lambda b=b, wp=wp: chunked(x, w, b, wp)))
                 for b in (1024, 2048) for wp in (4, 8) if width % b == 0]
        for name, fn in rows:
            got = fn()
            err = ((got.float() - want).norm() / want.norm()).item() if "rms" not in name else float("nan")
            ms = bench(fn)
            print(f"  {width:>5} {name:<18} {ms * 1e3:7.1f} µs {moved / ms / 1e6:7,.0f} GB/s "
                  f"({moved / ms / 1e6 / copy:.0%} of copy) rel_l2 {err:.1e}")


if __name__ == "__main__":
    main()
