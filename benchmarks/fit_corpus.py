"""`archread fit` on every candidate of the installed transformers: random-weight checkpoints saved by the
original classes at archread's tiny configuration (config.json removed), then the same with every role
renamed at random. Prints the table for RESULTS.md.

Usage: python benchmarks/fit_corpus.py [--only a,b] [--seed 1] [--part K/N]   (--part: every N-th candidate from
the K-th, to run parts side by side)

"right" counts the true model type or one whose reduced math is identical (the same reduced source once the
model's own name is taken out of its class names: signature.math_digest). Renamed: right first and the map
loads with strict=True into the best candidate's meta build.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
from pathlib import Path

# this folder's kernels.py would stand for the `kernels` package transformers imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from archread.fit.catalogue import load  # noqa: E402
from archread.fit.confirm import loads_strict  # noqa: E402
from archread.fit.headers import read_headers  # noqa: E402
from archread.fit.rank import fit  # noqa: E402
from archread.fit.samples import original_checkpoint, renamed_checkpoint  # noqa: E402


def _rank(report, entry, math: dict) -> int | None:
    for i, c in enumerate(report.candidates, 1):
        if c.model_type == entry["model_type"] or math[c.model_type] == entry["math"]:
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--part", default="1/1")
    args = parser.parse_args()
    entries = load()
    k, n = map(int, args.part.split("/"))
    entries_run = entries[k - 1::n]
    math = {e["model_type"]: e["math"] for e in entries}
    only = set(filter(None, args.only.split(",")))
    counts = collections.Counter()
    scratch = Path(tempfile.mkdtemp(prefix="archread-fit-"))
    print("| model type | named: rank of right | best | renamed: rank | loads strict | seconds |\n|---|---|---|---|---|---|")
    for entry in entries_run:
        if only and entry["model_type"] not in only:
            continue
        folder = scratch / entry["model_type"]
        try:
            original_checkpoint(entry, folder / "named")
        except Exception as exc:  # noqa: BLE001 - an original that does not build is not in the denominator
            print(f"| {entry['model_type']} | original does not build: {' '.join(str(exc).split())[:80]} | | | | |", flush=True)
            counts["skipped"] += 1
            continue
        counts["checkpoints"] += 1
        start = time.perf_counter()
        named = fit(folder / "named", top=3)
        seconds = time.perf_counter() - start
        rank = _rank(named, entry, math)
        counts["first"] += rank == 1
        counts["top3"] += rank is not None
        renamed_checkpoint(folder / "named", folder / "renamed", args.seed)
        renamed = fit(folder / "renamed", top=3)
        rrank = _rank(renamed, entry, math)
        strict = False
        if rrank == 1:
            try:
                strict = loads_strict(renamed.candidates[0], read_headers(folder / "renamed").shapes)
            except Exception:  # noqa: BLE001 - recorded as not loading
                strict = False
        counts["renamed_first"] += rrank == 1
        counts["renamed_strict"] += strict
        print(f"| {entry['model_type']} | {rank or '-'} | {named.candidates[0].model_type} | {rrank or '-'} | "
              f"{'yes' if strict else 'no'} | {seconds:.2f} |", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    n = max(1, counts["checkpoints"])
    print(f"\n{counts['checkpoints']} checkpoints ({counts['skipped']} originals did not build): right first "
          f"{counts['first']} ({counts['first'] / n:.1%}), top 3 {counts['top3']} ({counts['top3'] / n:.1%}); renamed: "
          f"right first {counts['renamed_first']} ({counts['renamed_first'] / n:.1%}), loads strict "
          f"{counts['renamed_strict']} ({counts['renamed_strict'] / n:.1%})")


if __name__ == "__main__":
    main()
