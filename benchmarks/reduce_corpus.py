"""Reduce every decoder-only causal LM of three transformers eras; report counts, sizes and timings.

Usage: python benchmarks/reduce_corpus.py [--releases 4.41.2 4.48.3 installed]
The release trees are pip-downloaded into ~/.cache/archread/corpus (see tests/conftest.py).
Sizes: the reduced module's non-blank lines over the original's lines, the way the issue quotes a file's size
(4.41.2's Llama: 1,518 lines), and over the original's non-blank lines, the stricter share.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import release_tree  # noqa: E402

from archread.errors import ArchreadError  # noqa: E402
from archread.parsers import reduce_source, resolve  # noqa: E402
from archread.parsers.source import transformers_root  # noqa: E402

_DECODER_MARKERS = ("ForCausalLM(", "LMHeadModel(")


def causal_lm_files(models: Path) -> list[Path]:
    """Modeling files that define a causal LM head; classification by their text, not by a list of names."""
    found = []
    for path in sorted(models.glob("**/modeling_*.py")):
        if path.stem.startswith(("modeling_tf_", "modeling_flax_")):  # TensorFlow and Flax: not torch models
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(f"class {m}" in text or m in text for m in _DECODER_MARKERS) and "EncoderDecoder" not in path.stem:
            found.append(path)
    return found


def sweep(name: str, models: Path, listing: Path | None) -> dict:
    files = [models.parent / line.strip() for line in listing.read_text().splitlines() if line.strip()] if listing else causal_lm_files(models)
    rows, failures = [], []
    for path in files:
        start = time.perf_counter()
        try:
            r = reduce_source(resolve(path))
            rows.append((path.parent.name, r.file_lines, r.original_lines, r.reduced_lines, time.perf_counter() - start))
        except ArchreadError as exc:
            failures.append((path.parent.name, str(exc)))
    def median(ratios):
        return statistics.median(ratios) if ratios else float("nan")
    return {"name": name, "files": len(files), "reduced": len(rows), "failures": failures, "rows": rows,
            "median_ratio": median([red / lines for _, lines, _, red, _ in rows]),
            "median_nonblank": median([red / nonblank for _, _, nonblank, red, _ in rows])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", nargs="*", default=["4.41.2", "4.48.3", "installed"])
    parser.add_argument("--lists", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    args = parser.parse_args()
    for release in args.releases:
        if release == "installed":
            import importlib.metadata

            version, models = importlib.metadata.version("transformers"), transformers_root() / "models"
        else:
            version, models = release, release_tree(release) / "models"
        listing = args.lists / f"causal_lm_files_{version}.txt"
        result = sweep(version, models, listing if listing.is_file() else None)
        slowest = sorted(result["rows"], key=lambda r: -r[4])[:3]
        print(f"## transformers {version}: {result['reduced']}/{result['files']} reduce and compile; median reduced "
              f"non-blank lines / original lines {result['median_ratio']:.1%} (/ original non-blank lines "
              f"{result['median_nonblank']:.1%})")
        for model, lines, nonblank, red, secs in sorted(result["rows"]):
            if model in ("llama", "nemotron", "gemma2", "mistral", "phi3", "qwen2"):
                print(f"  {model:<12} {lines:>5} lines ({nonblank} non-blank) -> {red:>4} ({red / lines:.0%}; "
                      f"{red / nonblank:.0%}), {secs * 1000:.0f} ms")
        print("  slowest: " + ", ".join(f"{m} {n} lines {s * 1000:.0f} ms" for m, n, _, _, s in slowest))
        for model, error in result["failures"]:
            print(f"  FAILED {model}: {error}")


if __name__ == "__main__":
    main()
