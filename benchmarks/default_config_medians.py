"""How much shorter the installed release's files read when each is specialised to its own configuration's
defaults (`reduce --config` with `{"model_type": T}`), against the generic reading: the median of
reduced/original lines both ways. A measurement for a design question, not a mode archread offers.

    python benchmarks/default_config_medians.py [--list ../shared/corpus/causal_lm_files_5.24.0.txt]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root
from archread.runtime.config_values import config_values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus" / "causal_lm_files_5.24.0.txt")
    args = parser.parse_args()
    generic, specialised, refused = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for line in args.list.read_text().split():
            source = resolve(str(transformers_root() / line))
            plain = reduce_source(source)
            path = Path(tmp) / "config.json"
            path.write_text(json.dumps({"model_type": source.model_type}))
            try:
                folded = reduce_source(source, config_values(path, source))
            except Exception as exc:  # noqa: BLE001 - a class whose defaults it rejects itself: counted generic
                refused.append(f"{source.model_type}: {type(exc).__name__}")
                folded = plain
            generic.append(plain.reduced_lines / plain.original_lines)
            specialised.append(folded.reduced_lines / plain.original_lines)
    print(f"{len(generic)} files: median generic {statistics.median(generic):.1%}, "
          f"specialised to their defaults {statistics.median(specialised):.1%}; defaults refused: {refused or 'none'}")


if __name__ == "__main__":
    main()
