"""`archread fit` on a 100 GB-class sharded checkpoint made of headers only (target: under 2 s).

The shards hold a Llama-3-70B-sized tree (80 layers, hidden 8192, 64 heads / 8 kv heads, intermediate 28672,
vocabulary 128256, bf16: 141 GB described) and no tensor data. Times a fresh `archread fit` process (the
catalogue already on disk), then the phases inside one process.

Usage: python benchmarks/fit_index.py [--runs 3] [--shards 30] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this folder's kernels.py would stand for the `kernels` package transformers imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from archread.fit.catalogue import load  # noqa: E402
from archread.fit.headers import read_headers  # noqa: E402
from archread.fit.rank import fit  # noqa: E402
from archread.fit.samples import header_only_shards  # noqa: E402


def llama70b_shapes(layers=80, hidden=8192, heads=64, kv=8, inter=28672, vocab=128256) -> dict:
    d = hidden // heads
    shapes = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (hidden,), p + "post_attention_layernorm.weight": (hidden,),
            p + "self_attn.q_proj.weight": (heads * d, hidden), p + "self_attn.k_proj.weight": (kv * d, hidden),
            p + "self_attn.v_proj.weight": (kv * d, hidden), p + "self_attn.o_proj.weight": (hidden, heads * d),
            p + "mlp.gate_proj.weight": (inter, hidden), p + "mlp.up_proj.weight": (inter, hidden),
            p + "mlp.down_proj.weight": (hidden, inter)})
    shapes.update({"model.norm.weight": (hidden,), "lm_head.weight": (vocab, hidden)})
    return shapes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shards", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    load()  # the catalogue is computed once per transformers release; not part of a fit
    folder = Path(tempfile.mkdtemp(prefix="archread-fit-index-"))
    total = header_only_shards(folder, llama70b_shapes(), args.shards)
    on_disk = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{args.shards} shards describing {total / 1e9:.1f} GB, {on_disk / 1e6:.2f} MB on disk")
    walls = []
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import sys; from archread.cli import main; sys.exit(main())", "fit", str(folder),
                               "--top", "3"],
                              capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if done.returncode:
            sys.exit(f"fit failed: {done.stderr.strip()}")
    print(done.stdout.splitlines()[1])
    print("`archread fit` process, wall: " + " / ".join(f"{w:.2f} s" for w in walls))
    start = time.perf_counter()
    read_headers(folder)
    headers = time.perf_counter() - start
    start = time.perf_counter()
    load()
    catalogue = time.perf_counter() - start
    start = time.perf_counter()
    report = fit(folder, top=3)
    whole = time.perf_counter() - start
    print(f"in one process: headers {headers:.3f} s, catalogue {catalogue:.3f} s, whole fit {whole:.3f} s "
          f"(best {report.candidates[0].model_type})")
    if args.profile:
        cProfile.runctx("fit(folder, top=3)", globals(), {"folder": folder}, "/tmp/fit_index.prof")
        pstats.Stats("/tmp/fit_index.prof").sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
