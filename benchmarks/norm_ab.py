"""The RMSNorm kernel of an earlier commit against today's and Liger's, timed alternately in one process (H200).

    python benchmarks/norm_ab.py [--old REV|FILE]   (default c1f9ed0: the kernel before session 5's changes;
    a file where the tree has no git history, e.g. `git show c1f9ed0:archread/runtime/kernels/norm.py > old.py`)

Alternating rounds keep the three under the same clocks; Liger's own time moves between processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import torch
import triton

from archread.runtime.kernels import norm as new

ROOT = Path(__file__).resolve().parents[1]


def old_module(rev: str) -> types.ModuleType:
    """The norm module as it was at rev (or in a file), loaded beside today's (its relative import made absolute)."""
    if Path(rev).is_file():
        source = Path(rev).read_text()
    else:
        source = subprocess.run(["git", "show", f"{rev}:archread/runtime/kernels/norm.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    source = source.replace("from ._checks import", "from archread.runtime.kernels._checks import")
    path = Path(f"/tmp/archread_norm_{Path(rev).stem}.py")  # triton's jit reads the kernel source from a file
    path.write_text(source)
    sys.path.insert(0, str(path.parent))
    return __import__(path.stem)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", default="c1f9ed0")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    old = old_module(args.old)
    from liger_kernel.transformers import functional as lf
    bench = lambda f: triton.testing.do_bench(f, warmup=50, rep=300, return_mode="median")  # noqa: E731
    x = torch.randn(16384, 4096, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(4096, device="cuda", dtype=torch.bfloat16)
    r = torch.randn_like(x)
    print(f"{torch.cuda.get_device_name()}: RMSNorm 16384×4096 bf16, µs; old = {args.old}")
    for _ in range(args.rounds):
        line = []
        for rows, warps in ((1, None), (1, 8), (2, None), (2, 16)):
            for name, mod in (("old", old), ("new", new)):
                mod.TUNE.update(rows=rows, warps=warps)
                line.append(f"{name} r{rows}w{warps}: {bench(lambda: mod.rms_norm(x, w)) * 1e3:.1f}")
        for name, mod in (("old", old), ("new", new)):
            mod.TUNE.update(rows=1, warps=None)
            line.append(f"{name} add: {bench(lambda: mod.rms_norm(x, w, residual=r)) * 1e3:.1f}")
        line.append(f"liger {bench(lambda: lf.liger_rms_norm(x, w, 1e-6)) * 1e3:.1f}")
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
