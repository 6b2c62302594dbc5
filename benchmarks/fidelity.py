"""Verify every decoder-only causal LM of the installed transformers: reduced? original runs? match?

Usage: python benchmarks/fidelity.py [--list ../shared/corpus/causal_lm_files_X.txt]
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from archread.errors import ArchreadError  # noqa: E402
from archread.parsers.source import transformers_root  # noqa: E402
from archread.runtime.verify import verify  # noqa: E402


def main() -> None:
    version = importlib.metadata.version("transformers")
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus" / f"causal_lm_files_{version}.txt")
    args = parser.parse_args()
    root = transformers_root()
    files = [root / line.strip() for line in args.list.read_text().splitlines() if line.strip()]
    outcome = collections.Counter()
    for path in files:
        try:
            report = verify(path)
            status = "match" if report.match else f"MISMATCH at {report.first_divergent}"
            detail = f"logits max_abs {report.logits.max_abs:.1e}"
        except ArchreadError as exc:
            text = str(exc)
            status = "original fails" if "original" in text else ("reduced fails" if "reduced" in text else "error")
            detail = text[:160]
        except Exception as exc:  # a benchmark records, it does not stop
            status, detail = "error", f"{type(exc).__name__}: {str(exc)[:140]}"
        outcome[status.split(" at ")[0]] += 1
        print(f"| {path.parent.name} | {status} | {detail} |", flush=True)
    print(f"\ntransformers {version}: " + ", ".join(f"{k} {v}" for k, v in outcome.most_common()) + f" of {len(files)}")


if __name__ == "__main__":
    main()
