"""Reduce one file with an older commit's archread and with this checkout's, alternately, each round in fresh
processes (best of three reductions per process); prints every round and the best of each side.

    python benchmarks/reduce_ab.py --old c78195d FILE [--rounds 5]

A single run on a busy VM says little; alternating the two sides in one sitting makes the ratio fair.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the editable install's import hook would serve this checkout to both sides: drop it, then import from ROOT
_CHILD = """
import sys, time
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
from archread.parsers import reduce_source, resolve
import archread
assert archread.__file__.startswith(sys.argv[1]), archread.__file__
source = resolve(sys.argv[2])
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    reduce_source(source)
    best = min(best, time.perf_counter() - start)
print(best)
"""


def timed(root: Path, file: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(file)], check=True, capture_output=True, text=True,
                         env={"ARCHREAD_NO_CACHE": "1", "PATH": ""})
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True, help="a commit of this repository")
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sides = {args.old: Path(tmp), "this checkout": ROOT}
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
