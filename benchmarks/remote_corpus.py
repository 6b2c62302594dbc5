"""Sweep a folder of remote-code repos (one subfolder each: config.json and the repo's .py files) through
reduce / standalone import / undefined names / diff / verify, and print a markdown table for RESULTS.md.

    python benchmarks/remote_corpus.py /work/cache/remote [--verify-timeout 300] [--no-verify] [--only NAME ...]

The repos themselves are listed in benchmarks/corpus_lists/remote.txt (repo@commit:path) and kept outside
the repository. "standalone" imports the reduced module in a fresh process that may load nothing but torch,
the standard library and archread.prelude (with what they load themselves: no other package need be installed); the verify column is `archread verify REPO
--trust-code`'s verdict, or its one-line reason where it gives none.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archread.errors import ArchreadError  # noqa: E402
from archread.parsers import reduce_source, resolve  # noqa: E402
from archread.parsers.undefined import undefined_names  # noqa: E402

ALLOWED = {"torch", "math", "archread"}  # what a reduced module may import (archread: its prelude only)

# the fresh process: import the module; fail on any top-level import outside ALLOWED
_IMPORT = """
import ast, importlib.util, sys
path = sys.argv[1]
tree = ast.parse(open(path).read())
for node in tree.body:
    mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ''] if isinstance(node, ast.ImportFrom) else []
    for m in mods:
        if m.split('.')[0] not in {'torch', *sys.stdlib_module_names} and m != 'archread.prelude':
            sys.exit(f'imports {m}')
spec = importlib.util.spec_from_file_location('reduced', path)
spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "").replace("|", "/")[:260]


def standalone(code: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        done = subprocess.run([sys.executable, "-c", _IMPORT, f.name], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.unlink(f.name)
    return "yes" if done.returncode == 0 else _one_line(done.stderr or done.stdout)


def _cli(*argv: str, timeout: int) -> tuple[int, str, str]:
    try:
        done = subprocess.run([sys.executable, "-m", "archread.cli", *argv], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout} s"
    return done.returncode, done.stdout, done.stderr


def verdict(repo: Path, timeout: int) -> str:
    code, out, err = _cli("verify", str(repo), "--trust-code", "--format", "json", timeout=timeout)
    if code in (0, 1) and out.strip().startswith("{"):
        try:
            report = json.loads(out)
        except ValueError:
            return _one_line(out)
        logits = report.get("logits", {})
        word = report.get("verdict") or ("MATCH" if report.get("match") else "MISMATCH")
        if word == "NO VERDICT":
            return f"none: {report.get('reason')}"
        return f"{word} (logits max_abs {logits.get('max_abs', float('nan')):.1e})"
    return f"none: {_one_line(err or out)}"


def sweep(repo: Path, verify: bool, timeout: int) -> dict:
    row = {"repo": repo.name}
    if repo.is_symlink():  # a link to the folder inside its repo's checkout: read there, beside its package
        repo = repo.resolve()
    try:
        source = resolve(repo)
        start = time.perf_counter()
        reduction = reduce_source(source)
    except ArchreadError as exc:
        return {**row, "reduce": f"exit 2: {_one_line(str(exc))}"}
    remote = source.remote
    row.update(root=reduction.roots[0] if len(reduction.roots) == 1 else f"{len(reduction.roots)} roots",
               release=remote.transformers_version if remote else "(no config.json)",
               reduce=f"{source.path.name}: {reduction.original_lines} → {reduction.reduced_lines} lines, "
                      f"{time.perf_counter() - start:.1f} s",
               undefined=", ".join(undefined_names(reduction.code)) or "none",
               standalone=standalone(reduction.code))
    code, _, err = _cli("diff", str(repo), timeout=timeout)
    row["diff"] = "ok" if code == 0 else f"exit {code}: {_one_line(err)}"
    if verify:
        row["verify"] = verdict(repo, timeout)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--verify-timeout", type=int, default=300)
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="sweep only the repo folders whose name contains one of these")
    args = parser.parse_args(argv)
    repos = sorted(p for p in args.folder.iterdir() if p.is_dir() and (not args.only or any(n in p.name for n in args.only)))
    columns = ["repo", "root", "release", "reduce", "standalone", "undefined", "diff"] + ([] if args.no_verify else ["verify"])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    rows = []
    for repo in repos:
        row = sweep(repo, not args.no_verify, args.verify_timeout)
        rows.append(row)
        print("| " + " | ".join(str(row.get(c, "—")) for c in columns) + " |", flush=True)
    reduced = [r for r in rows if "standalone" in r]
    clean = [r for r in reduced if r["standalone"] == "yes" and r["undefined"] == "none"]
    print(f"\n{len(rows)} repos: {len(reduced)} reduce, {len(clean)} reduce to a standalone module with no undefined name")
    if not args.no_verify:
        verdicts = [r for r in rows if r.get("verify", "").startswith(("MATCH", "MISMATCH"))]
        matches = [r for r in verdicts if r["verify"].startswith("MATCH")]
        print(f"verify: {len(verdicts)} verdicts ({len(matches)} MATCH), {len(rows) - len(verdicts)} without one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
