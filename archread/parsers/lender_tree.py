"""The transformers tree a remote-code file's imports of transformers' own models are read from.

Remote code built on transformers' classes (`class MiMoModel(Qwen2Model)`) runs under the release its config.json
names, so the classes it takes are that release's, not the installed one's (4.40.1's Qwen2 reads `rope_theta`,
5.x's `rope_parameters`). Their source is read where it is at hand: a release tree unpacked from its wheel
(~/.cache/archread/corpus/<version>, as the tests and benchmarks fetch them) or the release installed to run
originals (~/.cache/archread/releases/<version>); else the installed transformers, and the reduction says so.
Nothing is downloaded here: reading stays offline.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from pathlib import Path

import libcst as cst

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
    if version:
        return release_source(version) or transformers_root()
    return defining_root(here)


def defining_root(here: Path) -> Path | None:
    """Where no config.json names a release: the installed tree where it defines every name here imports from
    transformers' model files, else the newest release at hand that does (Aria's `LLAMA_ATTENTION_CLASSES`,
    gone after 4.47): the API the code was written against. Asked at every import a reading resolves: read once
    per version of the file."""
    try:
        stamp = here.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _defining_root(here, stamp)


@functools.lru_cache(maxsize=256)
def _defining_root(here: Path, stamp: int | None) -> Path | None:
    installed = transformers_root()
    wanted = _imported_model_names(here)
    if installed is None or not wanted or _defines_all(installed, wanted):
        return installed
    return next((root for root in _releases_at_hand() if _defines_all(root, wanted)), installed)


def _imported_model_names(here: Path) -> tuple[tuple[str, str], ...]:
    """(module path under transformers, name) of each `from transformers.models.x.modeling_x import Name`."""
    try:
        tree = ast.parse(here.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return ()
    return tuple(sorted({(node.module.removeprefix("transformers.").replace(".", "/"), alias.name)
                         for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
                         and (node.module or "").startswith("transformers.models.") for alias in node.names
                         if alias.name != "*"}))


def _defines_all(root: Path, wanted: tuple[tuple[str, str], ...]) -> bool:
    return all(source_defines(root / f"{module}.py", name) for module, name in wanted)


def source_defines(path: Path, name: str) -> bool:
    """Whether the source of a module defines `name` (read, not imported): a def, a class, an assignment or an
    import of it, or, for the lazy top-level package, the name in its import structure."""
    text, name = _source(path), re.escape(name)
    return text is not None and re.search(
        rf"^\s*(def|class)\s+{name}\b|^\s*{name}\s*=|\bimport\b.*\b{name}\b|^\s+{name}(\s+as\s+\w+)?,?\s*$|[\"']{name}[\"']",
        text, re.M) is not None


def _source(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _releases_at_hand() -> list[Path]:
    """The release trees on this machine, newest first."""
    corpus = Path(os.environ.get("ARCHREAD_CORPUS") or archread_cache() / "corpus")
    found = {}
    for base in (corpus, archread_cache() / "releases"):
        for folder in base.glob("*/transformers/models") if base.is_dir() else ():
            version = folder.parent.parent.name
            if re.fullmatch(r"\d+\.\d+\.\d+", version):
                found.setdefault(version, folder.parent)
    return [found[v] for v in sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)]


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


_CLASS_LINE = re.compile(r"^class (\w+)\(", re.MULTILINE)


@functools.lru_cache(maxsize=4)
def model_class_files(root: Path) -> dict[str, Path]:
    """class name -> the models/<name>/modeling_*.py of `root` that defines it: where `from transformers import
    LlamaForCausalLM` (a VLM's language model, built as a member) is read from. Read once per tree."""
    found: dict[str, Path] = {}
    for path in sorted(p for p in root.glob("models/*/modeling_*.py") if p.parent.name != "auto"):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for name in _CLASS_LINE.findall(text):
            found.setdefault(name, path)
    return found


def by_model_file(module: cst.Module, here: Path) -> cst.Module:
    """Remote code's `from transformers import LlamaForCausalLM, AutoProcessor` as the imports of the modeling
    files that define those classes (`from transformers.models.llama.modeling_llama import LlamaForCausalLM`),
    which the module can borrow from; the framework's names stay imported as written."""
    if tree_of(here) is not None or not any(_top_transformers_import(s) for s in module.body):
        return module
    root = lender_root(here)
    files = model_class_files(root) if root is not None else {}
    body = []
    for stmt in module.body:
        imp = _top_transformers_import(stmt)
        if imp is None or not any(a.evaluated_name in files for a in imp.names):
            body.append(stmt)
            continue
        groups: dict[str, list] = {}
        for alias in imp.names:
            path = files.get(alias.evaluated_name)
            where = "transformers" if path is None else f"transformers.models.{path.parent.name}.{path.stem}"
            groups.setdefault(where, []).append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        for where, names in groups.items():
            statement = cst.parse_statement(f"from {where} import x\n")
            body.append(statement.with_changes(body=[statement.body[0].with_changes(names=names)]))
    return module.with_changes(body=body)


def _top_transformers_import(stmt) -> cst.ImportFrom | None:
    imp = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
    if type(imp) is cst.ImportFrom and not imp.relative and type(imp.module) is cst.Name \
            and imp.module.value == "transformers" and not isinstance(imp.names, cst.ImportStar):
        return imp
    return None
