import torch, triton, sys
sys.path.insert(0, "tests")
from archread.runtime.kernels import rope
from transformers.models.llama import modeling_llama as llama
from transformers.models.nemotron import modeling_nemotron as nemotron
bench = lambda f: triton.testing.do_bench(f, warmup=50, rep=300, return_mode="median")
B = torch.bfloat16
src = torch.randn(1 << 28, device="cuda", dtype=B); dst = torch.empty_like(src)
copy = 2 * src.numel() * 2 / bench(lambda: dst.copy_(src)) / 1e6
print(f"copy {copy:,.0f} GB/s")
for name, hq, rot, hf in (("rope", 32, 128, llama.apply_rotary_pos_emb), ("partial", 48, 64, nemotron.apply_rotary_pos_emb)):
    q = torch.randn(1, 16384, hq, 128, device="cuda", dtype=B).transpose(1, 2)
    k = torch.randn(1, 16384, 8, 128, device="cuda", dtype=B).transpose(1, 2)
    cos, sin = torch.randn(1, 16384, rot, device="cuda", dtype=B), torch.randn(1, 16384, rot, device="cuda", dtype=B)
    moved = (2 * (q.numel() + k.numel()) + 2 * cos.numel()) * 2
    comp = torch.compile(hf, dynamic=False)
    t_c = bench(lambda: comp(q, k, cos, sin))
    want = rope.apply_rope(q, k, cos, sin)
    for load in ("evict_first", "", ".cg"):
        for warps in (4, 8):
            rope.TUNE.update(load=load, warps=warps)
            got = rope.apply_rope(q, k, cos, sin)
            assert all(torch.equal(a, b) for a, b in zip(got, want))
            t = bench(lambda: rope.apply_rope(q, k, cos, sin))
            print(f"{name:<8} load={load!r:<14} warps={warps} {t*1e3:6.1f} µs {moved/t/1e6/copy:.0%} of copy, {t_c/t:.2f}x compile")
