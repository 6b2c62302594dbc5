"""Check the default reading against the configuration classes themselves: every value a reading assumes
(`# assumes sliding_window=4096`, read statically from configuration_x.py) must be the value the class, built
with no arguments, holds. A disagreement is a fold the static reading got wrong.

Usage: python benchmarks/default_reading.py [--list ../shared/corpus/causal_lm_files_V.txt]
(files of the installed transformers: their classes run here)
"""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root
from archread.runtime.build import MISSING, held_value


def main() -> None:
    version = importlib.metadata.version("transformers")
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus" / f"causal_lm_files_{version}.txt")
    args = parser.parse_args()
    import transformers

    root = transformers_root()
    counts = {"files": 0, "assuming": 0, "values": 0, "agree": 0}
    for line in args.list.read_text().split():
        path = root / line
        try:
            reduction = reduce_source(resolve(path))
        except ArchreadError as exc:
            print(f"  {path.parent.name}: does not reduce ({exc})")
            continue
        counts["files"] += 1
        if not reduction.assumed:
            continue
        try:
            cfg = transformers.AutoConfig.for_model(reduction.source.model_type)
        except Exception as exc:  # no class under that type (a text model of a multimodal file)
            print(f"  {path.parent.name}: no configuration class to check against ({type(exc).__name__})")
            continue
        counts["assuming"] += 1
        for key, value in reduction.assumed.items():
            counts["values"] += 1
            held = held_value(cfg, key)
            if held is MISSING and hasattr(cfg, "get_text_config"):  # a multimodal file's text model reads its section
                held = held_value(cfg.get_text_config(), key)
            if held == value:
                counts["agree"] += 1
            else:
                print(f"  {path.parent.name}: assumes {key}={value!r}, {type(cfg).__name__}() holds "
                      f"{'nothing' if held is MISSING else repr(held)}")
    print(f"transformers {version}: {counts['files']} readings, {counts['assuming']} assume values; "
          f"{counts['agree']} of {counts['values']} assumed values are the class's own defaults")


if __name__ == "__main__":
    main()
