"""What parsing, walking and writing a file cost, next to the whole reduction, in one process (best of N
each): by libcst's own calls, and by `archread.parsers.fastcst`'s, which the reduction uses.

    python benchmarks/reduce_floor.py FILE [--rounds 5]

The walk is the chained walk with no passes (it changes nothing). The reduction cannot be faster than
fastcst's parse, walk and code generation together (the floor); the ratio says what the passes add on this
machine at this moment, which a bare timing on a shared VM does not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import libcst as cst

from archread.parsers import resolve
from archread.parsers.fastcst import code_of, transform
from archread.parsers.libcst_patches import parse_module
from archread.parsers.pipeline import Chain, reduce_source


def best(rounds: int, work) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def _parts(costs: list[float]) -> str:
    return f"parse {costs[0]:.3f} s + walk {costs[1]:.3f} s + code {costs[2]:.3f} s = {sum(costs):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    source = resolve(str(args.file))
    module = parse_module(source.text)
    libcst_costs = [best(args.rounds, lambda: cst.parse_module(source.text)),
                    best(args.rounds, lambda: module.visit(Chain([]))), best(args.rounds, lambda: module.code)]
    costs = [best(args.rounds, lambda: parse_module(source.text)), best(args.rounds, lambda: transform(module, Chain([]))),
             best(args.rounds, lambda: code_of(module))]
    reduce = best(args.rounds, lambda: reduce_source(source))
    print(f"{args.file}:\n  libcst:  {_parts(libcst_costs)}\n  fastcst: {_parts(costs)} (the floor)\n"
          f"  reduce_source {reduce:.3f} s ({reduce / sum(costs):.2f}× the floor)")


if __name__ == "__main__":
    main()
