"""What libcst alone costs on a file, next to the whole reduction, in one process (best of N each):
parse, a walk that changes nothing (the chained walk with no passes), code generation, and `reduce_source`.

    python benchmarks/reduce_floor.py FILE [--rounds 5]

The reduction cannot be faster than the first three together; the ratio says what the passes add on this
machine at this moment, which a bare timing on a shared VM does not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import libcst as cst

from archread.parsers import resolve
from archread.parsers.pipeline import Chain, reduce_source


def best(rounds: int, work) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    source = resolve(str(args.file))
    module = cst.parse_module(source.text)
    parse = best(args.rounds, lambda: cst.parse_module(source.text))
    walk = best(args.rounds, lambda: module.visit(Chain([])))
    codegen = best(args.rounds, lambda: module.code)
    reduce = best(args.rounds, lambda: reduce_source(source))
    floor = parse + walk + codegen
    print(f"{args.file}: parse {parse:.3f} s, no-op walk {walk:.3f} s, code generation {codegen:.3f} s "
          f"= floor {floor:.3f} s; reduce_source {reduce:.3f} s ({reduce / floor:.2f}× the floor)")


if __name__ == "__main__":
    main()
