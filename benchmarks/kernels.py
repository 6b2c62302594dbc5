"""archread's Triton kernels against HF eager, torch.compile and Liger-Kernel, on one GPU, in one run.

Memory-bound ops are reported in GB/s (bytes each input read once + each output written once, over the
median time) beside a device-to-device copy measured in the same run; attention in TFLOP/s beside PyTorch
SDPA's flash backend. Every archread result is first checked at full shape against a float32 reference.

    python benchmarks/kernels.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import kernel_refs as ref  # noqa: E402

from archread.runtime import kernels as K  # noqa: E402

TUNE = {op: importlib.import_module(f"archread.runtime.kernels.{op}").TUNE for op in ("norm", "activation", "softcap", "rope")}

DEV, BF16 = "cuda", torch.bfloat16
TOKENS = 16384


def bench(fn) -> float:
    """Median milliseconds (CUDA events, after warm-up)."""
    return triton.testing.do_bench(fn, warmup=50, rep=300, return_mode="median")


def rel_l2(got, want) -> float:
    if isinstance(got, tuple):
        return max(rel_l2(g, w) for g, w in zip(got, want))
    return ((got.float() - want.float()).norm() / want.float().norm()).item()


def peers_hf():
    """HF's eager code for each op, from the installed transformers (what the models run)."""
    from transformers.activations import ACT2FN
    from transformers.models.llama import modeling_llama as llama
    from transformers.models.nemotron import modeling_nemotron as nemotron
    return llama, nemotron, ACT2FN


def peers_liger():
    try:
        from liger_kernel.transformers import functional as lf
        return lf
    except Exception as exc:  # noqa: BLE001 - report, don't stop the run
        print(f"liger-kernel unavailable: {exc}")
        return None


def compiled(fn):
    return torch.compile(fn, dynamic=False)


def cases():
    llama, nemotron, ACT2FN = peers_hf()
    lf = peers_liger()
    H, I, HQ, HKV, D = 4096, 14336, 32, 8, 128  # noqa: E741 (the intermediate size, as papers name it)
    NH, NI, NHQ = 6144, 24576, 48  # Nemotron-4-like: LayerNorm1P, relu², partial rotary 0.5
    x, r = torch.randn(TOKENS, H, device=DEV, dtype=BF16), torch.randn(TOKENS, H, device=DEV, dtype=BF16)
    w = (torch.rand(H, device=DEV) + 0.5).to(BF16)

    rms = llama.LlamaRMSNorm(H, eps=1e-5).to(DEV, BF16)
    rms.weight.data.copy_(w)
    yield dict(op="RMSNorm (Llama) 16384×4096", bytes=2 * x.numel() * 2,
               ours=lambda: K.rms_norm(x, w, 1e-5), want=lambda: ref.rms_norm(x, w, 1e-5),
               peers={"hf_eager": lambda: rms(x), "torch_compile": lambda f=compiled(rms.forward): f(x),
                      **({"liger": lambda: lf.liger_rms_norm(x, w, 1e-5, in_place=False)} if lf else {})})

    def add_rms(x, r):
        s = x + r
        return s, rms(s)
    f_add = compiled(add_rms)
    yield dict(op="residual add + RMSNorm 16384×4096", bytes=4 * x.numel() * 2,
               ours=lambda: K.rms_norm(x, w, 1e-5, residual=r)[1], want=lambda: ref.rms_norm(x, w, 1e-5, residual=r),
               peers={"hf_eager": lambda: add_rms(x, r), "torch_compile": lambda: f_add(x, r),
                      **({"liger": lambda: lf.liger_fused_add_rms_norm(x, r, w, 1e-5, in_place=False)} if lf else {})})

    nx = torch.randn(TOKENS, NH, device=DEV, dtype=BF16)
    ln = nemotron.NemotronLayerNorm1P(NH, eps=1e-5).to(DEV, BF16)
    ln.weight.data.normal_(0, 0.1)
    ln.bias.data.normal_(0, 0.1)
    f_ln = compiled(ln.forward)
    yield dict(op="LayerNorm1P (Nemotron) 16384×6144", bytes=2 * nx.numel() * 2,
               ours=lambda: K.layer_norm(nx, ln.weight, ln.bias, 1e-5, 1.0),
               want=lambda: ref.layer_norm(nx, ln.weight, ln.bias, 1e-5, 1.0),
               peers={"hf_eager": lambda: ln(nx), "torch_compile": lambda: f_ln(nx),
                      # Liger has no weight offset for LayerNorm: it is given w+1, made once outside the timing
                      **({"liger(w+1 given)": (lambda w1=ln.weight + 1: lf.liger_layer_norm(nx, w1, ln.bias, 1e-5))}
                         if lf else {})})

    for name, hq, hkv, rot, hf_rope in (("RoPE (Llama) q32/k8 ×128", HQ, HKV, D, llama.apply_rotary_pos_emb),
                                         ("partial RoPE 0.5 (Nemotron) q48/k8 ×128", NHQ, HKV, D // 2,
                                          nemotron.apply_rotary_pos_emb)):
        q = torch.randn(1, TOKENS, hq, D, device=DEV, dtype=BF16).transpose(1, 2)
        k = torch.randn(1, TOKENS, hkv, D, device=DEV, dtype=BF16).transpose(1, 2)
        ang = torch.arange(TOKENS, device=DEV)[:, None] * 10000 ** (-torch.arange(0, rot, 2, device=DEV) / rot)
        ang = torch.cat((ang, ang), -1)[None]
        cos, sin = ang.cos().to(BF16), ang.sin().to(BF16)
        f_rope = compiled(hf_rope)
        yield dict(op=f"{name} 16384 tokens", bytes=(2 * (q.numel() + k.numel()) + 2 * cos.numel()) * 2,
                   ours=lambda q=q, k=k, c=cos, s=sin: K.apply_rope(q, k, c, s),
                   want=lambda q=q, k=k, c=cos, s=sin: ref.apply_rope(q, k, c, s),
                   peers={"hf_eager": lambda q=q, k=k, c=cos, s=sin, f=hf_rope: f(q, k, c, s),
                          "torch_compile": lambda q=q, k=k, c=cos, s=sin, f=f_rope: f(q, k, c, s),
                          **({"liger": lambda q=q, k=k, c=cos, s=sin: lf.liger_rope(q, k, c, s)} if lf else {})})
        if lf:  # Liger rotates q and k where they lie: the same contract, side by side (the data drifts; timing only)
            qi, ki = q.clone(), k.clone()
            yield dict(op=f"{name} in place", bytes=(2 * (q.numel() + k.numel()) * rot // D + 2 * cos.numel()) * 2,
                       ours=lambda q=qi, k=ki, c=cos, s=sin: K.apply_rope(q, k, c, s, inplace=True),
                       want=None, peers={"liger": lambda q=qi, k=ki, c=cos, s=sin: lf.liger_rope(q, k, c, s)})

    for act, gated, inter, liger in (("silu", True, I, "liger_swiglu"), ("gelu_tanh", True, I, "liger_geglu"),
                                      ("relu2", False, NI, "liger_relu_squared")):
        g, u = torch.randn(TOKENS, inter, device=DEV, dtype=BF16), torch.randn(TOKENS, inter, device=DEV, dtype=BF16)
        hf_act = ACT2FN[{"gelu_tanh": "gelu_pytorch_tanh"}.get(act, act)]
        eager = (lambda g=g, u=u, a=hf_act: a(g) * u) if gated else (lambda g=g, a=hf_act: a(g))
        f_eager = compiled((lambda g, u, a=hf_act: a(g) * u) if gated else (lambda g, u, a=hf_act: a(g)))
        lig = getattr(lf, liger, None) if lf else None
        yield dict(op=f"{act}{'·up' if gated else ''} 16384×{inter}", bytes=(3 if gated else 2) * g.numel() * 2,
                   ours=lambda g=g, u=u, a=act, gt=gated: K.activation(g, u if gt else None, a),
                   want=lambda g=g, u=u, a=act, gt=gated: ref.activation(g, u if gt else None, a),
                   peers={"hf_eager": eager, "torch_compile": lambda g=g, u=u, f=f_eager: f(g, u),
                          **({"liger": (lambda g=g, u=u, f=lig: f(g, u)) if gated else (lambda g=g, f=lig: f(g))}
                             if lig else {})})

    logits = torch.randn(4096, 256000, device=DEV, dtype=BF16) * 40

    def cap_eager(x, cap=30.0):  # Gemma 2's final-logit softcap, as written there
        return torch.tanh(x / cap) * cap
    f_cap = compiled(cap_eager)
    yield dict(op="softcap 30 (Gemma 2 logits) 4096×256000", bytes=2 * logits.numel() * 2,
               ours=lambda: K.softcap(logits, 30.0), want=lambda: ref.softcap(logits, 30.0),
               peers={"hf_eager": lambda: cap_eager(logits), "torch_compile": lambda: f_cap(logits)})


def attention_cases():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa
    B, HQ, HKV, S, D = 4, 32, 8, 4096, 128
    q = torch.randn(B, HQ, S, D, device=DEV, dtype=BF16)
    k, v = torch.randn(B, HKV, S, D, device=DEV, dtype=BF16), torch.randn(B, HKV, S, D, device=DEV, dtype=BF16)
    kr, vr = k.repeat_interleave(HQ // HKV, 1), v.repeat_interleave(HQ // HKV, 1)

    def flash():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return sdpa(q, kr, vr, is_causal=True)
    flops = 4 * B * HQ * S * S * D / 2  # two matmuls, causal half
    yield dict(op=f"causal GQA attention B{B} S{S} q{HQ}/kv{HKV} d{D}", flops=flops, slice=True,
               ours=lambda: K.attention(q, k, v), want=lambda: ref.attention(q[:1, :8], k[:1, :2], v[:1, :2]),
               peers={"sdpa_flash": flash})
    yield dict(op="  + sliding window 1024, softcap 50", flops=None, slice=True,
               ours=lambda: K.attention(q, k, v, window=1024, softcap=50.0),
               want=lambda: ref.attention(q[:1, :8], k[:1, :2], v[:1, :2], window=1024, cap=50.0), peers={})


def sweep() -> None:
    """Time each launcher's tuning choices at the benchmark shapes, keep the fastest in its TUNE for this run."""
    x = torch.randn(TOKENS, 4096, device=DEV, dtype=BF16)
    w = torch.ones(4096, device=DEV, dtype=BF16)
    nx = torch.randn(TOKENS, 6144, device=DEV, dtype=BF16)
    g, u = torch.randn(TOKENS, 14336, device=DEV, dtype=BF16), torch.randn(TOKENS, 14336, device=DEV, dtype=BF16)
    q = torch.randn(1, TOKENS, 32, 128, device=DEV, dtype=BF16).transpose(1, 2)
    k = torch.randn(1, TOKENS, 8, 128, device=DEV, dtype=BF16).transpose(1, 2)
    cos, sin = torch.randn(1, TOKENS, 128, device=DEV, dtype=BF16), torch.randn(1, TOKENS, 128, device=DEV, dtype=BF16)
    logits = torch.randn(4096, 256000, device=DEV, dtype=BF16)
    grids = [
        ("norm", TUNE["norm"], {"warps": (4, 8, 16), "rows": (1, 2, 4)}, lambda: K.rms_norm(x, w)),
        ("norm", TUNE["norm"], {"chunk": (1024, 2048), "chunk_warps": (4, 8, 16)},
         lambda: K.layer_norm(nx, w.repeat(2)[:6144], None, 1e-5, 1.0)),
        ("activation", TUNE["activation"], {"block": (1024, 2048, 4096), "warps": (4, 8)},
         lambda: K.activation(g, u, "gelu_tanh")),
        ("softcap", TUNE["softcap"], {"block": (1024, 2048, 4096, 8192), "warps": (4, 8, 16), "hw_tanh": (False, True)},
         lambda: K.softcap(logits, 30.0)),
        ("rope", TUNE["rope"], {"positions": (1,), "warps": (4, 8), "load": ("evict_first", "", ".cg")},
         lambda: K.apply_rope(q, k, cos, sin)),
    ]
    for op, tune, space, fn in grids:
        keys = list(space)
        best = None
        for values in itertools.product(*space.values()):
            tune.update(zip(keys, values))
            ms = bench(fn)
            print(f"  sweep {op:<10} " + " ".join(f"{k}={v!s:<5}" for k, v in zip(keys, values)) + f" {ms * 1e3:8.1f} µs")
            if best is None or ms < best[0]:
                best = (ms, values)
        tune.update(zip(keys, best[1]))
        print(f"  chosen for {op}: {tune}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--sweep", action="store_true", help="time the tuning choices first and use the fastest")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.sweep:
        sweep()
    n = 1 << 29
    src, dst = torch.randn(n // 2, device=DEV, dtype=BF16), torch.empty(n // 2, device=DEV, dtype=BF16)
    copy_ms = bench(lambda: dst.copy_(src))
    copy_gbs = 2 * src.numel() * 2 / copy_ms / 1e6
    a, b = torch.randn(8192, 8192, device=DEV, dtype=BF16), torch.randn(8192, 8192, device=DEV, dtype=BF16)
    mm_tflops = 2 * 8192 ** 3 / bench(lambda: a @ b) / 1e9
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__} triton {triton.__version__}")
    print(f"device copy {copy_gbs:,.0f} GB/s; bf16 matmul 8192³ {mm_tflops:,.0f} TFLOP/s\n")
    rows = []
    for case in list(cases()) + list(attention_cases()):
        got = case["ours"]()
        if case["want"] is None:  # checked out of place above
            err = float("nan")
        else:
            want = case["want"]()
            if case.get("slice"):
                got = got[:1, :8]
            err = rel_l2(got, want)
        ms, again = bench(case["ours"]), bench(case["ours"])  # timed twice: the spread says what is noise
        row = {"op": case["op"], "rel_l2": err, "ms": ms, "spread": abs(again - ms) / ms, "peers": {}}
        for peer, fn in case["peers"].items():
            try:
                row["peers"][peer] = bench(fn)
            except Exception as exc:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
                row["peers"][peer] = None
                print(f"  {case['op']}: {peer} failed: {type(exc).__name__}: {str(exc)[:120]}")
        if case.get("bytes"):
            row["bytes"] = case["bytes"]
            row["gbs"] = case["bytes"] / ms / 1e6
            row["of_copy"] = row["gbs"] / copy_gbs
        if case.get("flops"):
            row["tflops"] = case["flops"] / ms / 1e9
        rows.append(row)
        rate = f"{row['gbs']:7,.0f} GB/s ({row['of_copy']:.0%} of copy)" if "gbs" in row else (
            f"{row['tflops']:7,.0f} TFLOP/s" if "tflops" in row else "")
        peers = "  ".join(f"{p} {('%.2f×' % (t / ms)) if t else 'n/a'}" for p, t in row["peers"].items())
        print(f"{case['op']:<48} {ms * 1e3:9.1f} µs ±{row['spread']:.0%} {rate}  rel_l2 {err:.1e}  | {peers}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                               "tune": TUNE,
                                               "triton": triton.__version__, "copy_gbs": copy_gbs,
                                               "matmul_tflops": mm_tflops, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
