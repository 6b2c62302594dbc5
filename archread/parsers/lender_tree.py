"""The transformers tree a remote-code file's imports of transformers' own models are read from.

Remote code built on transformers' classes (`class MiMoModel(Qwen2Model)`) runs under the release its config.json
names, so the classes it takes are that release's, not the installed one's (4.40.1's Qwen2 reads `rope_theta`,
5.x's `rope_parameters`). Their source is read where it is at hand: a release tree unpacked from its wheel
(~/.cache/archread/corpus/<version>, as the tests and benchmarks fetch them) or the release installed to run
originals (~/.cache/archread/releases/<version>); else the installed transformers, and the reduction says so.
Nothing is downloaded here: reading stays offline.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from archread.parsers.cache_root import archread_cache
from archread.parsers.source import release_of, transformers_root, tree_of


def named_release(here: Path) -> str | None:
    """The release the config.json beside a file outside any transformers tree names."""
    try:
        data = json.loads((here.parent / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return release_named(data.get("transformers_version") if isinstance(data, dict) else None)


_DEVELOPMENT = re.compile(r"(\d+\.\d+\.\d+)\.?(?:dev|rc)\d*")


def release_named(version) -> str | None:
    """The published release a config.json's `transformers_version` stands for: itself, or for a development
    build of transformers' main branch (`4.30.0.dev0`, never published) the release it became, whose API it
    was written against."""
    if not isinstance(version, str) or not version[:1].isdigit():
        return None
    development = _DEVELOPMENT.fullmatch(version)
    return development.group(1) if development else version


def release_source(version: str) -> Path | None:
    """The transformers package folder of release `version`, if its source is on this machine."""
    corpus = Path(os.environ.get("ARCHREAD_CORPUS") or archread_cache() / "corpus")
    for root in (corpus / version / "transformers", archread_cache() / "releases" / version / "transformers"):
        if (root / "models").is_dir():
            return root
    return None


def lender_root(here: Path) -> Path | None:
    """The tree here's `transformers.models…` imports read: its own, else the release its config.json names
    where that release's source is at hand, else the installed one."""
    own = tree_of(here)
    if own is not None:
        return own
    version = named_release(here)
    return (release_source(version) if version else None) or transformers_root()


def other_release_read(here: Path, lenders) -> str | None:
    """The warning a remote-code reduction carries when transformers' classes it takes were read from a release
    other than the one its config.json names (that release's source is not on this machine)."""
    version = named_release(here) if tree_of(here) is None else None
    if version is None:
        return None
    read = sorted({release_of(Path(p)) or "?" for p in lenders if tree_of(Path(p)) is not None} - {version})
    if not read:
        return None
    return (f"transformers' classes this code subclasses were read from transformers {', '.join(read)}: the source of "
            f"{version}, the release its config.json names and the original runs under, is not on this machine")
