"""The candidates: every decoder-only causal LM of the installed transformers, with its signature, computed
once and kept on disk (JSON) by transformers release and archread's own code.

The candidates are read statically from transformers' auto mappings (never imported): the causal-LM classes
of model types that no masked-LM, sequence-to-sequence or image/audio/video mapping names, each located by
the modeling file that defines it.

    python -m archread.fit.catalogue [--timeout S]   (computes what is missing, one child process a candidate)
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import select
import signal
import sys
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers.cache import _code_hash, archread_cache
from archread.parsers.source import transformers_root

_NOT_TEXT_DECODERS = ("MASKED_LM", "SEQ_TO_SEQ", "IMAGE", "VISION", "AUDIO", "SPEECH", "VIDEO", "CTC", "WAVEFORM",
                      "SPECTROGRAM", "MULTIMODAL")
_HEADS = ("ForCausalLM", "LMHeadModel")


def _mappings(root: Path) -> dict[str, dict]:
    tree = ast.parse((root / "models" / "auto" / "modeling_auto.py").read_text(encoding="utf-8"))
    maps = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.endswith("_MAPPING_NAMES") and isinstance(node.value, ast.Call) and node.value.args:
            try:
                maps[node.targets[0].id] = dict(ast.literal_eval(node.value.args[0]))
            except (ValueError, TypeError):
                continue
    return maps


def candidate_files(root: Path | None = None) -> list[Path]:
    """The modeling files of the installed transformers' decoder-only causal LMs."""
    root = root or transformers_root()
    if root is None:
        raise ArchreadError("fit needs transformers installed: its models are the candidates")
    maps = _mappings(root)
    excluded = set().union(*(set(m) for k, m in maps.items() if any(w in k for w in _NOT_TEXT_DECODERS)))
    wanted = {c for t, c in maps.get("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", {}).items()
              if t not in excluded and isinstance(c, str) and c.endswith(_HEADS)}
    found: dict[str, Path] = {}
    for path in sorted(root.glob("models/*/modeling_*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in re.findall(r"^class (\w+)\(", text, flags=re.M):
            if name in wanted and name not in found:
                found[name] = path
    return sorted(set(found.values()))


def _fit_code_hash() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(_code_hash().encode())
    for path in [here / "signature.py", here / "laws.py", here.parent / "runtime" / "tiny.py", here.parent / "runtime" / "build.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def catalogue_dir() -> Path:
    version = importlib.metadata.version("transformers")
    return archread_cache() / "fit" / f"transformers-{version}-{_fit_code_hash()}"


def _entry_path(path: Path) -> Path:
    key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return catalogue_dir() / f"{path.parent.name}-{key}.json"


def _compute(path: Path) -> dict:
    import transformers

    from archread.fit.signature import signature
    from archread.parsers import resolve

    try:
        return signature(resolve(path), transformers)
    except ArchreadError as exc:
        return {"path": str(path), "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a candidate that does not build is recorded, not fatal
        return {"path": str(path), "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"}


def _in_child(path: Path, timeout: float) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            data = json.dumps(_compute(path)).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write, view):]
        finally:
            os._exit(0)
    os.close(write)
    chunks, deadline_left = [], timeout
    while True:
        ready, _, _ = select.select([read], [], [], deadline_left)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            return {"path": str(path), "error": f"no signature within {timeout:.0f} s"}
        chunk = os.read(read, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"path": str(path), "error": "the child died without a signature"}


def ensure(timeout: float = 120.0, progress=None, only: set[str] | None = None) -> list[dict]:
    """Every candidate's signature (or its error), computing the missing ones in child processes; `only`: the
    candidates of these model folders (a quick sample)."""
    files = [p for p in candidate_files() if only is None or p.parent.name in only]
    entries = []
    folder = catalogue_dir()
    folder.mkdir(parents=True, exist_ok=True)
    warm = False
    for i, path in enumerate(files):
        where = _entry_path(path)
        try:
            entries.append(json.loads(where.read_text(encoding="utf-8")))
            continue
        except (OSError, ValueError):
            pass
        if progress:
            progress(f"[{i + 1}/{len(files)}] signature of {path.parent.name}")
        if not warm:  # imported once here, so each child forked below starts with them
            import torch  # noqa: F401
            import transformers.modeling_utils  # noqa: F401 - the machinery every modeling module imports
            from transformers.models.llama import modeling_llama  # noqa: F401

            import archread.fit.signature  # noqa: F401
            import archread.parsers.pipeline  # noqa: F401
            warm = True
        entry = _in_child(path, timeout) if hasattr(os, "fork") else _compute(path)
        tmp = where.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        tmp.replace(where)
        entries.append(entry)
    return entries


def load(progress=None) -> list[dict]:
    """The candidates that have a signature: one file read once all are computed (a fit reads no modeling file)."""
    whole = catalogue_dir() / "catalogue.json"
    try:
        return json.loads(whole.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    entries = [e for e in ensure(progress=progress) if "error" not in e]
    tmp = whole.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries), encoding="utf-8")
    tmp.replace(whole)
    return entries


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    entries = ensure(args.timeout, progress=lambda m: print(m, file=sys.stderr, flush=True))
    failed = [e for e in entries if "error" in e]
    for e in failed:
        print(f"  {Path(e['path']).parent.name}: {e['error']}")
    print(f"{len(entries) - len(failed)} of {len(entries)} candidates have a signature ({catalogue_dir()})")


if __name__ == "__main__":
    main()
