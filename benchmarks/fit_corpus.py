"""`archread fit` on every candidate of the installed transformers: random-weight checkpoints saved by the
original classes at archread's tiny configuration (config.json removed), then the same with every role
renamed at random. Prints the table for RESULTS.md.

Usage: python benchmarks/fit_corpus.py [--only a,b] [--seed 1] [--part K/N]   (--part: every N-th candidate from
the K-th, to run parts side by side)

"right" counts the true model type or one whose reduced math is identical: the same reduced source once the
model's own name is taken out of its class names (signature.math_digest), or the same logits from the same
weights once what the shapes cannot tell takes the true values (fit_equivalence.py). Renamed: right first and the map
loads with strict=True into the best candidate's meta build.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
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

# the judge sits beside this script, whose folder is off the path (see above)
_spec = importlib.util.spec_from_file_location("fit_equivalence", Path(__file__).with_name("fit_equivalence.py"))
_equivalence = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_equivalence)
named_fit, same_math = _equivalence.named_fit, _equivalence.same_math


def _rank(report, entry, is_right) -> int | None:
    for i, c in enumerate(report.candidates, 1):
        if is_right(c.model_type):
            return i
    return None


def _judge(entry: dict, by_type: dict, folder: Path):
    """model type -> whether it counts as right for this checkpoint: the true type, the same reduced text, or the
    same logits from the same weights with the true values of what the shapes cannot tell (fit_equivalence)."""
    verdicts: dict = {}
    shapes = read_headers(folder / "named").shapes

    def is_right(model_type: str) -> bool:
        if model_type not in verdicts:
            other = by_type[model_type]
            verdicts[model_type] = model_type == entry["model_type"] or other["math"] == entry["math"] or same_math(
                other, named_fit(other, folder / "named", shapes).config, entry, folder / "true_config.json",
                folder / "named")
        return verdicts[model_type]
    return is_right, verdicts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--part", default="1/1")
    args = parser.parse_args()
    entries = load()
    k, n = map(int, args.part.split("/"))
    entries_run = entries[k - 1::n]
    by_type = {e["model_type"]: e for e in entries}
    only = set(filter(None, args.only.split(",")))
    counts = collections.Counter()
    scratch = Path(tempfile.mkdtemp(prefix="archread-fit-"))
    print("| model type | named: rank of right | best | renamed: rank | loads strict | counted as the same math | "
          "seconds |\n|---|---|---|---|---|---|---|")
    for entry in entries_run:
        if only and entry["model_type"] not in only:
            continue
        folder = scratch / entry["model_type"]
        try:
            original_checkpoint(entry, folder / "named", keep_config=folder / "true_config.json")
        except Exception as exc:  # noqa: BLE001 - an original that does not build is not in the denominator
            print(f"| {entry['model_type']} | original does not build: {' '.join(str(exc).split())[:80]} | | | | | |",
                  flush=True)
            counts["skipped"] += 1
            continue
        counts["checkpoints"] += 1
        start = time.perf_counter()
        named = fit(folder / "named", top=3)
        seconds = time.perf_counter() - start
        is_right, verdicts = _judge(entry, by_type, folder)
        rank = _rank(named, entry, is_right)
        counts["first"] += rank == 1
        counts["top3"] += rank is not None
        renamed_checkpoint(folder / "named", folder / "renamed", args.seed)
        renamed = fit(folder / "renamed", top=3)
        rrank = _rank(renamed, entry, is_right)
        strict = False
        if rrank == 1:
            try:
                strict = loads_strict(renamed.candidates[0], read_headers(folder / "renamed").shapes)
            except Exception:  # noqa: BLE001 - recorded as not loading
                strict = False
        counts["renamed_first"] += rrank == 1
        counts["renamed_strict"] += strict
        same = ", ".join(t for t, v in verdicts.items() if v and t != entry["model_type"])
        print(f"| {entry['model_type']} | {rank or '-'} | {named.candidates[0].model_type} | {rrank or '-'} | "
              f"{'yes' if strict else 'no'} | {same} | {seconds:.2f} |", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    n = max(1, counts["checkpoints"])
    print(f"\n{counts['checkpoints']} checkpoints ({counts['skipped']} originals did not build): right first "
          f"{counts['first']} ({counts['first'] / n:.1%}), top 3 {counts['top3']} ({counts['top3'] / n:.1%}); renamed: "
          f"right first {counts['renamed_first']} ({counts['renamed_first'] / n:.1%}), loads strict "
          f"{counts['renamed_strict']} ({counts['renamed_strict'] / n:.1%})")


if __name__ == "__main__":
    main()
