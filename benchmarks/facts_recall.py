"""Recall of the expected differences from Llama, and the false ones, per release, on the labelled set.

    python benchmarks/facts_recall.py                 # the installed transformers and 4.41.2, 4.48.3
    python benchmarks/facts_recall.py --eras 5.25.0 -v --only gemma3,dbrx

The labels (benchmarks/data/facts_labels.toml) give, for each architecture, every fact where its code computes
differently from that release's Llama, read by hand. Each model is diffed against its own release's Llama with
`diff_models`, the same call as `archread diff`: an expected difference is found when the diff reports it with
the labelled value; a false difference is one the diff reports that the labels do not expect (or one labelled
"=llama" in that release). An `unknown` activation is counted apart. Release trees come from tests/conftest.py's
`release_tree`; the installed release is read where it is installed. Exit status 1 when recall is below 100% or
any false difference is reported.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "data" / "facts_labels.toml"
OLD_ERAS = ["4.41.2", "4.48.3"]
SAME = "=llama"


def expected(labels: dict, model: str, era: str) -> dict:
    table = labels[model]
    base = {k: v for k, v in table.items() if not isinstance(v, dict)}
    base.update(table.get(era, {}))
    return {k: v for k, v in base.items() if v != SAME}


def _source(model: str, era: str, installed: str):
    from archread.parsers import resolve

    if era == installed:
        return resolve(model)
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import release_tree

    path = release_tree(era) / "models" / model / f"modeling_{model}.py"
    return resolve(path) if path.exists() else None


def score(model: str, era: str, want: dict, installed: str, llama) -> dict | None:
    from archread.diff import diff_models
    from archread.parsers import reduce_source

    source = _source(model, era, installed)
    if source is None:
        return None
    d = diff_models(reduce_source(source), llama)
    got = {f.key: f.model for f in d.differing}
    activation = next((f.value for f in d.model_facts if f.key == "mlp.activation"), None)
    return {"model": model, "era": era,
            "found": sorted(k for k, v in want.items() if k in got and got[k] == v),
            "missed": {k: {"want": v, "got": got.get(k, "(as llama)")} for k, v in want.items()
                       if k not in got or got[k] != v},
            "false": {k: v for k, v in got.items() if k not in want},
            "unknown_activation": activation == "unknown"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eras", default=None, help="comma-separated releases (default: 4.41.2, 4.48.3, installed)")
    ap.add_argument("--only", default=None, help="comma-separated model types")
    ap.add_argument("-v", "--verbose", action="store_true", help="list each miss and false difference")
    ap.add_argument("--json", action="store_true", help="one JSON object per model")
    args = ap.parse_args(argv)
    from archread.parsers import reduce_source

    labels = tomllib.loads(LABELS.read_text())
    installed = importlib.metadata.version("transformers")
    eras = args.eras.split(",") if args.eras else [*OLD_ERAS, installed]
    models = [m for m in args.only.split(",") if m in labels] if args.only else list(labels)
    failed = False
    print(f"{'release':8} {'models':>6} {'expected':>8} {'found':>6} {'recall':>7} {'false':>6} {'unknown act':>11}")
    for era in eras:
        llama = reduce_source(_source("llama", era, installed))
        rows = [r for m in models if (r := score(m, era, expected(labels, m, era), installed, llama))]
        want = sum(len(r["found"]) + len(r["missed"]) for r in rows)
        found = sum(len(r["found"]) for r in rows)
        false = sum(len(r["false"]) for r in rows)
        unknown = sum(r["unknown_activation"] for r in rows)
        failed |= found < want or false > 0 or unknown > 0
        print(f"{era:8} {len(rows):6} {want:8} {found:6} {found / max(want, 1):7.1%} {false:6} {unknown:11}")
        for r in rows:
            if args.json:
                print(json.dumps(r, default=str))
            elif args.verbose and (r["missed"] or r["false"] or r["unknown_activation"]):
                print(f"  {r['model']}: missed {r['missed'] or '-'}; false {r['false'] or '-'}"
                      + ("; activation unknown" if r["unknown_activation"] else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
