"""Prefill throughput and peak memory: the reduced model on its kernels vs the original (sdpa, eager)."""

from __future__ import annotations

import gc
import statistics

import torch


def matmul_rate(device: str) -> float:
    """bf16 TFLOP/s of one large matrix product, measured now: the ceiling the floor is drawn from."""
    a, b = (torch.randn(8192, 8192, device=device, dtype=torch.bfloat16) for _ in range(2))
    ms = _median_ms(lambda: a @ b, reps=20)
    return 2 * 8192 ** 3 / ms / 1e9


def matmul_flops(model: torch.nn.Module, cfg, tokens: int) -> float:
    """Every Linear's product plus causal attention's two products (half the square), for one sequence."""
    linear = sum(2 * tokens * m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    heads = getattr(cfg, "num_attention_heads", 0)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // max(heads, 1)
    attention = cfg.num_hidden_layers * 2 * 2 * tokens * tokens * head_dim * heads / 2
    return linear + attention


def _median_ms(fn, reps: int = 10) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _measure(model, ids) -> dict:
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    with torch.inference_mode():
        ms = _median_ms(lambda: model(ids))
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        model(ids)
        torch.cuda.synchronize()
        extra = torch.cuda.max_memory_allocated() - before
    return {"ms": ms, "tokens_per_s": ids.numel() / ms * 1e3, "peak_gib": (weights + extra) / 2**30}


def prefill_bench(reduced, original_cls, folder, cfg, dtype, device, tokens: int = 4096) -> dict:
    ids = torch.randint(0, cfg.vocab_size, (1, tokens), device=device)
    rate = matmul_rate(device)
    flops = matmul_flops(reduced, cfg, tokens)
    out = {"tokens": tokens, "matmul_tflops": rate, "flop": flops, "floor_ms": flops / rate / 1e9,
           "reduced": _measure(reduced, ids)}
    for impl in ("sdpa", "eager"):
        model = original_cls.from_pretrained(folder, dtype=dtype, local_files_only=True,
                                             attn_implementation=impl).to(device).eval()
        out[f"original_{impl}"] = _measure(model, ids)
        del model
        gc.collect()
        torch.cuda.empty_cache()
    for impl in ("sdpa", "eager"):
        out[f"speedup_vs_{impl}"] = out[f"original_{impl}"]["ms"] / out["reduced"]["ms"]
    return out


def bench_lines(b: dict) -> list[str]:
    lines = [f"prefill {b['tokens']} tokens; matmul rate {b['matmul_tflops']:.0f} TFLOP/s; "
             f"floor {b['floor_ms']:.2f} ms ({b['flop'] / 1e12:.2f} TFLOP)"]
    for name in ("reduced", "original_sdpa", "original_eager"):
        r = b[name]
        lines.append(f"  {name:<15} {r['ms']:8.2f} ms  {r['tokens_per_s']:>10,.0f} tok/s  "
                     f"{b['floor_ms'] / r['ms']:5.0%} of floor  peak {r['peak_gib']:.2f} GiB")
    lines.append(f"  reduced vs original: {b['speedup_vs_sdpa']:.2f}× sdpa, {b['speedup_vs_eager']:.2f}× eager")
    return lines
