"""Reductions cached on disk by content: the source text and archread's own reducing code.

A change to either gives a new key, so a stale reduction is never served. JSON, never pickle.
Set ARCHREAD_NO_CACHE=1 to bypass; ARCHREAD_CACHE to move it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import os
from pathlib import Path

from archread.parsers.cache_root import archread_cache
from archread.parsers.lender_tree import lender_root
from archread.parsers.reduction import Reduction
from archread.parsers.source import Source, digest


def cache_dir() -> Path:
    return archread_cache() / "reductions"


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*root.glob("parsers/**/*.py"), *root.glob("prelude*.py")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _key(source: Source) -> str:
    return hashlib.sha256(f"{_code_hash()}\0{source.path}\0{source.release}\0{source.remote}\0{lender_root(source.path)}\0{source.text}".encode()).hexdigest()[:32]


def _digest_of(path: Path) -> str | None:
    try:
        return digest(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def reduce_cached(source: Source) -> Reduction:
    path = cache_dir() / f"{_key(source)}.json"
    if os.environ.get("ARCHREAD_NO_CACHE") != "1":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if all(_digest_of(Path(p)) == d for p, d in data.get("lenders", {}).items()):  # the files it read from
                return Reduction(source=source, **{k: v for k, v in data.items() if k != "source"})
        except (OSError, ValueError, TypeError):
            pass
    from archread.parsers.pipeline import reduce_source  # only on a miss: the pipeline is the costly import

    result = reduce_source(source)
    if os.environ.get("ARCHREAD_NO_CACHE") == "1":
        return result
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "source"}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only home still reduces, just without the cache
    return result


def is_cached(source: Source) -> bool:
    return os.environ.get("ARCHREAD_NO_CACHE") != "1" and (cache_dir() / f"{_key(source)}.json").is_file()


def prefetch(*sources: Source) -> list[int]:
    """Start reducing every uncached source off the caller's path; returns the pid to wait for.
    One child imports the pipeline (the slow import, once) and reduces the first source while a forked
    grandchild per other source reduces that one; each writes the cache. The caller meanwhile imports and
    paints the UI, then calls collect()."""
    todo = [s for s in sources if not is_cached(s)]
    if not todo or not hasattr(os, "fork") or os.environ.get("ARCHREAD_NO_CACHE") == "1":
        return []
    pid = os.fork()
    if pid:
        return [pid]
    try:  # the child: leaves without running the parent's cleanup, whatever happens
        os.nice(10)  # the caller's first paint comes first; the reductions take the cycles it leaves
        importlib.import_module("archread.parsers.pipeline")
        kids = []
        for source in todo[1:]:
            kid = os.fork()
            if kid == 0:
                try:
                    reduce_cached(source)
                finally:
                    os._exit(0)
            kids.append(kid)
        reduce_cached(todo[0])
        for kid in kids:
            os.waitpid(kid, 0)
    finally:
        os._exit(0)


def collect(pids: list[int], *sources: Source) -> list[Reduction]:
    for pid in pids:
        os.waitpid(pid, 0)
    return [reduce_cached(s) for s in sources]  # from the cache (reduced here if a child could not)
