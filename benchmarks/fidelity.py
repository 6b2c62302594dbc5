"""Verify every decoder-only causal LM of the installed transformers: reduced? original runs? match?

Usage: python benchmarks/fidelity.py [--release 4.48.3] [--list ../shared/corpus/causal_lm_files_X.txt] [--timeout 90]

--release V reads the modeling files of transformers V unpacked under ~/.cache/archread/corpus/V (as the
tests leave them); their originals run under V in a subprocess.

Each model runs in a forked child with a time limit, so one that hangs (blt did, for minutes) is recorded
as a timeout instead of stopping the sweep.
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import json
import os
import select
import signal
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from archread.errors import ArchreadError  # noqa: E402
from archread.parsers.source import transformers_root  # noqa: E402
from archread.runtime.verify import verify  # noqa: E402


def check(path: Path) -> tuple[str, str]:
    try:
        report = verify(path)
        status = "match" if report.match else f"MISMATCH at {report.first_divergent}"
        return status, f"logits max_abs {report.logits.max_abs:.1e}"
    except ArchreadError as exc:
        text = str(exc)
        status = "original fails" if "original" in text else ("reduced fails" if "reduced" in text else "error")
        return status, text[:160]
    except Exception as exc:  # a benchmark records, it does not stop
        return "error", f"{type(exc).__name__}: {str(exc)[:140]}"


def in_child(path: Path, timeout: float) -> tuple[str, str]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.write(write, json.dumps(check(path)).encode())
        finally:
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], timeout)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        return "timeout", f"no result within {timeout:.0f} s"
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    try:
        return tuple(json.loads(b"".join(chunks)))
    except ValueError:
        return "error", "the child died without a result"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--release", default=importlib.metadata.version("transformers"))
    parser.add_argument("--list", type=Path)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    version = args.release
    args.list = args.list or Path(__file__).resolve().parents[2] / "shared" / "corpus" / f"causal_lm_files_{version}.txt"
    installed = version == importlib.metadata.version("transformers")
    corpus = Path(os.environ.get("ARCHREAD_CORPUS", Path.home() / ".cache" / "archread" / "corpus"))
    root = transformers_root() if installed else corpus / version / "transformers"
    files = [root / line.strip() for line in args.list.read_text().splitlines() if line.strip()]
    outcome = collections.Counter()
    for path in files:
        status, detail = in_child(path, args.timeout)
        outcome[status.split(" at ")[0]] += 1
        print(f"| {path.parent.name} | {status} | {detail} |", flush=True)
    print(f"\ntransformers {version}: " + ", ".join(f"{k} {v}" for k, v in outcome.most_common()) + f" of {len(files)}")


if __name__ == "__main__":
    main()
