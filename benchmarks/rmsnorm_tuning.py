"""RMSNorm at Llama-3-8B's width against Liger, over the launcher's rows × warps, in one run (H200); each
setting also checked against a float32 reference, and Liger timed again at the end (its time varies).

    python benchmarks/rmsnorm_tuning.py
"""

from __future__ import annotations

import torch
import triton

from archread.runtime import kernels as K


def main() -> None:
    bench = lambda f: triton.testing.do_bench(f, warmup=50, rep=400, return_mode="median")  # noqa: E731
    x = torch.randn(16384, 4096, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(4096, device="cuda", dtype=torch.bfloat16)
    src = torch.randn(1 << 28, device="cuda", dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    copy = 2 * src.numel() * 2 / bench(lambda: dst.copy_(src)) / 1e6
    moved = 2 * x.numel() * 2
    try:
        from liger_kernel.transformers import functional as lf
        liger = bench(lambda: lf.liger_rms_norm(x, w, 1e-6))
    except ImportError:
        liger = None
    print(f"{torch.cuda.get_device_name()} copy {copy:,.0f} GB/s; Liger {liger * 1e3 if liger else float('nan'):.1f} µs")
    want = (w.float() * (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)).to(x.dtype).float())
    results = []
    for rows in (1, 2, 4):
        for warps in (None, 4, 8, 16):
            K.norm.TUNE.update(rows=rows, warps=warps)
            err = (K.rms_norm(x, w).float() - want).abs().max().item()
            t = bench(lambda: K.rms_norm(x, w))
            results.append((t, rows, warps))
            vs = f"{liger / t:.2f}× Liger" if liger else ""
            print(f"  rows {rows} warps {warps!s:<4} {t * 1e3:6.1f} µs {moved / t / 1e6 / copy:.0%} of copy {vs}  "
                  f"max err {err:.3g}")
    if liger:
        again = [bench(lambda: lf.liger_rms_norm(x, w, 1e-6)) for _ in range(3)]
        print("  Liger again: " + ", ".join(f"{t * 1e3:.1f} µs" for t in again))
    best = min(results)
    print(f"best: rows {best[1]} warps {best[2]}: {best[0] * 1e3:.1f} µs")


if __name__ == "__main__":
    main()
