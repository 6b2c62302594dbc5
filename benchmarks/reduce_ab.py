"""Reduce one file with an older commit's archread and with this checkout's, alternately, each round in fresh
processes (best of three reductions per process); prints every round and the best of each side.

    python benchmarks/reduce_ab.py --old c78195d FILE [--rounds 5]
    python benchmarks/reduce_ab.py --old c78195d FILE --instructions

A single run on a busy VM says little; alternating the two sides in one sitting makes the ratio fair. On this
VM even that is not enough: the same process ran 0.44 s and 0.70 s within the hour, in CPU time as in wall time
(a neighbour's load, not preemption). `--instructions` counts instead the CPU instructions one (warm) reduction
executes, under valgrind's callgrind, the cycle collector off (whether a full collection falls inside the count
is chance): the same count, within a few tenths of a percent, whatever the neighbours do; a few minutes a side.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the editable install's import hook would serve this checkout to both sides: drop it, then import from ROOT
_CHILD = """
import gc, sys, time
if sys.argv[4:] == ["quiet"]:  # counting: no cycle collection, which runs or not at a count's whim (a full one: ~10%)
    gc.disable()
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
from archread.parsers import reduce_source, resolve
import archread
assert archread.__file__.startswith(sys.argv[1]), archread.__file__
source = resolve(sys.argv[2])
best = float("inf")
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    reduce_source(source)
    best = min(best, time.perf_counter() - start)
print(best)
"""


def _child(root: Path, file: Path, reductions: int, under: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    quiet = ["quiet"] if under else []
    return subprocess.run([*under, sys.executable, "-c", _CHILD, str(root), str(file), str(reductions), *quiet], check=True,
                          capture_output=True, text=True, env={"ARCHREAD_NO_CACHE": "1", "PATH": os.environ["PATH"], "PYTHONHASHSEED": "0"})


def timed(root: Path, file: Path) -> float:
    return float(_child(root, file, 3).stdout.strip())


def instructions(root: Path, file: Path) -> int:
    """Instructions of the second reduction in a process: a run of two less a run of one (both run at once,
    after a run that compiles the modules: a side that compiled them and one that read them would differ)."""
    _child(root, file, 0)
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda n: _collected(_child(root, file, n, _CALLGRIND).stderr), (1, 2)))
    return counts[1] - counts[0]


_CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


def _collected(log: str) -> int:
    return int(re.search(r"Collected : (\d+)", log).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True, help="a commit of this repository")
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind) instead of timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sides = {args.old: Path(tmp), "this checkout": ROOT}
        if args.instructions:
            old, new = (instructions(root, args.file.resolve()) for root in sides.values())
            print(f"instructions of one reduction: {args.old} {old / 1e6:.0f} M, this checkout {new / 1e6:.0f} M ({new / old:.3f}×)")
            return
        best = {name: float("inf") for name in sides}
        for round_ in range(1, args.rounds + 1):
            row = []
            for name, root in sides.items():
                seconds = timed(root, args.file.resolve())
                best[name] = min(best[name], seconds)
                row.append(f"{name} {seconds:.3f} s")
            print(f"round {round_}: " + ", ".join(row))
    old, new = best.values()
    print(f"best: {args.old} {old:.3f} s, this checkout {new:.3f} s ({new / old:.2f}×)")


if __name__ == "__main__":
    main()
