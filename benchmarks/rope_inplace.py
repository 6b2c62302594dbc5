import torch, triton
from archread.runtime.kernels import rope
from liger_kernel.transformers import functional as lf
bench = lambda f: triton.testing.do_bench(f, warmup=50, rep=300, return_mode="median")
B = torch.bfloat16
q = torch.randn(1, 16384, 48, 128, device="cuda", dtype=B).transpose(1, 2)
k = torch.randn(1, 16384, 8, 128, device="cuda", dtype=B).transpose(1, 2)
cos, sin = torch.randn(1, 16384, 64, device="cuda", dtype=B), torch.randn(1, 16384, 64, device="cuda", dtype=B)
t_l = bench(lambda: lf.liger_rope(q, k, cos, sin))
for load in ("", "evict_first"):
    for P in (1, 2, 4):
        for W in (2, 4, 8):
            rope.TUNE.update(load=load, positions=P, warps=W)
            t = bench(lambda: rope.apply_rope(q, k, cos, sin, inplace=True))
            print(f"inplace partial load={load!r:<14} P={P} W={W} {t*1e3:6.1f} µs  {t_l/t:.2f}x liger")
