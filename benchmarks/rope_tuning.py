"""RoPE's load hints and warps on one GPU, against torch.compile (out of place) and Liger (in place, its
contract), each peer timed in the same run. Llama-3-8B (q32/k8) and Nemotron-like (q48/k8, rotary half).

    python benchmarks/rope_tuning.py
"""

from __future__ import annotations

import torch
import triton

from archread.runtime.kernels import rope

TOKENS, BF16 = 16384, torch.bfloat16


def bench(fn) -> float:
    return triton.testing.do_bench(fn, warmup=50, rep=300, return_mode="median")


def inputs(q_heads: int, rot: int):
    q = torch.randn(1, TOKENS, q_heads, 128, device="cuda", dtype=BF16).transpose(1, 2)  # the models' view
    k = torch.randn(1, TOKENS, 8, 128, device="cuda", dtype=BF16).transpose(1, 2)
    cos, sin = (torch.randn(1, TOKENS, rot, device="cuda", dtype=BF16) for _ in range(2))
    return q, k, cos, sin


def main() -> None:
    from transformers.models.llama import modeling_llama as llama
    from transformers.models.nemotron import modeling_nemotron as nemotron

    try:
        from liger_kernel.transformers import functional as liger
    except ImportError:
        liger = None
    src = torch.randn(1 << 28, device="cuda", dtype=BF16)
    dst = torch.empty_like(src)
    copy = 2 * src.numel() * 2 / bench(lambda: dst.copy_(src)) / 1e6
    print(f"{torch.cuda.get_device_name()} copy {copy:,.0f} GB/s")
    for name, q_heads, rot, hf in (("RoPE", 32, 128, llama.apply_rotary_pos_emb),
                                   ("partial RoPE", 48, 64, nemotron.apply_rotary_pos_emb)):
        q, k, cos, sin = inputs(q_heads, rot)
        moved = (2 * (q.numel() + k.numel()) + 2 * cos.numel()) * 2
        compiled = torch.compile(hf, dynamic=False)
        t_compile = bench(lambda: compiled(q, k, cos, sin))
        want = rope.apply_rope(q, k, cos, sin)
        for load in ("evict_first", "", ".cg"):
            for warps in (4, 8):
                rope.TUNE.update(load=load, warps=warps)
                assert all(torch.equal(a, b) for a, b in zip(rope.apply_rope(q, k, cos, sin), want))
                t = bench(lambda: rope.apply_rope(q, k, cos, sin))
                print(f"  {name:<12} load={load!r:<14} warps={warps} {t * 1e3:6.1f} µs "
                      f"{moved / t / 1e6 / copy:.0%} of copy, {t_compile / t:.2f}× torch.compile")
        if liger is not None:  # in place, both: the rotary dimensions only
            t_liger = bench(lambda: liger.liger_rope(q, k, cos, sin))
            for warps in (None, 2, 4, 8):
                rope.TUNE.update(load="", warps=warps)
                t = bench(lambda: rope.apply_rope(q, k, cos, sin, inplace=True))
                print(f"  {name:<12} in place warps={warps!s:<4} {t * 1e3:6.1f} µs {t_liger / t:.2f}× Liger")
        rope.TUNE.update(load="", warps=None)


if __name__ == "__main__":
    main()
