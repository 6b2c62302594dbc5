"""Reduce every file of the given lists with two commits of archread, each in a fresh process, and report which
reductions differ: the reduced text, the per-pass removal counts and the warnings, byte for byte.

    python benchmarks/reduce_identical.py --old main --new HEAD
    python benchmarks/reduce_identical.py --old 6604200 --lists 5.24.0:benchmarks/corpus_lists/modular_files_5.24.0.txt

`--new` defaults to the working tree as it is (uncommitted edits included). Each list is `RELEASE:FILE`, FILE
holding paths inside that release's `transformers/` folder (the release tree comes from tests/conftest.py's
`release_tree`); by default the three shared corpus lists and the 5.24.0 modular files. A commit's dumps can be
kept (`--keep DIR`, keyed by the commit's id) so that comparing several later states against one base reduces
the base once. Exit status 1 when any reduction differs (a refactor's check), 0 when all are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parents[1] / "shared" / "corpus"
_DEFAULT_LISTS = [f"4.41.2:{SHARED}/causal_lm_files_4.41.2.txt", f"4.48.3:{SHARED}/causal_lm_files_4.48.3.txt",
                  f"5.24.0:{SHARED}/causal_lm_files_5.24.0.txt",
                  f"5.24.0:{ROOT}/benchmarks/corpus_lists/modular_files_5.24.0.txt"]

# one fresh process per side and list: imports that side's archread only (the editable install's hook dropped)
_CHILD = """
import json, sys
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
import archread
assert archread.__file__.startswith(sys.argv[1]), archread.__file__
from archread.errors import ArchreadError
from archread.parsers.pipeline import reduce_source
from archread.parsers.source import resolve
for path in sys.argv[2:]:
    try:
        r = reduce_source(resolve(path))
        row = {"code": r.code, "removed": dict(sorted(r.removed.items())), "warnings": r.warnings}
    except ArchreadError as exc:
        row = {"error": str(exc)}
    print(json.dumps({"path": path, **row}), flush=True)
"""


def _files(spec: str) -> list[str]:
    release, listing = spec.split(":", 1)
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import release_tree

    tree = release_tree(release)
    return [str(tree / line.strip()) for line in Path(listing).read_text().splitlines() if line.strip()]


def _commit(ref: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True,
                          text=True).stdout.strip()


def _dump(root: Path, files: list[str]) -> dict[str, dict]:
    env = {"ARCHREAD_NO_CACHE": "1", "PATH": os.environ["PATH"], "PYTHONHASHSEED": "0"}
    out = subprocess.run(["nice", sys.executable, "-c", _CHILD, str(root), *files], check=True, capture_output=True,
                         text=True, env=env).stdout
    return {row["path"]: row for row in map(json.loads, out.splitlines())}


def dumps(ref: str | None, specs: list[str], keep: Path | None) -> dict[str, dict]:
    """path -> its reduction's record, for the commit ref (None: the working tree)."""
    commit = _commit(ref) if ref else None
    found: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = ROOT
        if commit:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            root = Path(tmp)
        for spec in specs:
            name = f"{commit}-{spec.split(':')[0]}-{Path(spec.split(':', 1)[1]).stem}.json"
            kept = keep / name if keep and commit else None
            if kept and kept.is_file():
                found.update(json.loads(kept.read_text()))
                continue
            rows = _dump(root, _files(spec))
            if kept:
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(json.dumps(rows))
            found.update(rows)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="a commit of this repository (the base)")
    parser.add_argument("--new", help="a commit to compare with it (default: the working tree)")
    parser.add_argument("--lists", nargs="*", default=_DEFAULT_LISTS, help="RELEASE:FILE ...")
    parser.add_argument("--keep", type=Path, help="a folder to keep each commit's dumps in, and reuse them from")
    args = parser.parse_args()
    old, new = dumps(args.old, args.lists, args.keep), dumps(args.new, args.lists, args.keep)
    differ = [p for p in old if old[p] != new.get(p)]
    for path in differ:
        fields = [k for k in ("code", "removed", "warnings", "error") if old[path].get(k) != new.get(path, {}).get(k)]
        print(f"DIFFERS {path}: {', '.join(fields)}")
    errors = sum("error" in row for row in old.values())
    print(f"{len(old) - len(differ)} of {len(old)} reductions identical ({errors} refused on both sides alike)"
          if not differ else f"{len(differ)} of {len(old)} reductions differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
