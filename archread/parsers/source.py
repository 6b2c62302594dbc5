"""Find the modeling source a user means: a file, a folder holding one, or a model type in transformers.

Nothing here imports or executes the file; the installed transformers is located with find_spec.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers.remote import (
    RemoteCode,
    chosen_root,
    is_modeling_name,
    modeling_files,
    one_modeling_file,
    remote_code,
    snapshot_of,
)


@dataclass(frozen=True)
class Source:
    path: Path
    text: str
    model_type: str  # "llama" for modeling_llama.py
    release: str | None  # the transformers release the file belongs to, if any
    remote: RemoteCode | None = None  # the repo the file ships in (config.json beside it), outside any transformers tree

    @property
    def label(self) -> str:
        return f"{self.model_type} ({self.release})" if self.release else self.model_type


def transformers_root() -> Path | None:
    """The installed transformers package folder, found without importing it."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def model_types(root: Path) -> list[str]:
    return sorted(p.parent.name for p in root.glob("models/*/modeling_*.py") if p.stem == f"modeling_{p.parent.name}")


def tree_of(path: Path) -> Path | None:
    """The transformers package folder a modeling file lives in, if it lives in one."""
    return next((p for p in path.resolve().parents if p.name == "transformers" and (p / "models").is_dir()), None)


def release_of(path: Path) -> str | None:
    """The version of the transformers tree a modeling file lives in, read from its __init__.py."""
    tree = tree_of(path)
    init = tree / "__init__.py" if tree is not None else None  # read, not imported: importlib.metadata costs 50 ms
    if init is not None and init.is_file():
        for line in init.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    return None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\0" in data:
        raise ArchreadError(f"{path}: binary file, expected Python source")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchreadError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ArchreadError(f"{path}: empty file")
    return text


def _modeling_file_in(folder: Path) -> Path:
    candidates = modeling_files(folder)
    if not candidates:
        raise ArchreadError(f"{folder}: no modeling_*.py in this folder")
    if len(candidates) > 1:
        exact = [c for c in candidates if c.stem == f"modeling_{folder.name}"]
        if len(exact) == 1:
            return exact[0]
        return one_modeling_file(folder, candidates)
    return candidates[0]


def _model_type_of(path: Path) -> str:
    return path.stem.removeprefix("modeling_").removeprefix("modelling_").removeprefix("modular_")


def resolve(ref: str | Path, root: str | None = None) -> Source:
    """A file path, a folder with one modeling file, a remote-code repo folder (config.json and the repo's .py
    files; an HF cache snapshot) or one of its files, or a model type such as 'nemotron'; root: the model class
    the user chose (`--root`), for a file outside a transformers tree."""
    source = _resolve(ref)
    if root is None:
        return source
    if tree_of(source.path) is not None:
        raise ArchreadError(f"{source.path}: --root chooses a class of remote code; this file is transformers' own")
    return dataclasses.replace(source, remote=chosen_root(source.path, root, source.remote))


def _resolve(ref: str | Path) -> Source:
    path = Path(ref)
    remote = None
    if path.is_dir():
        folder = snapshot_of(path)
        remote = remote_code(folder) if tree_of(folder / "x.py") is None else None
        path = folder / f"{remote.modeling}.py" if remote is not None else _modeling_file_in(folder)
    elif not path.exists():
        text = str(ref)
        if "/" in text or text.endswith(".py") or "\\" in text:
            raise ArchreadError(f"{ref}: no such file or folder")
        return _resolve_name(text)
    elif tree_of(path) is None and (path.name == "config.json" or is_modeling_name(path.stem)):
        remote = remote_code(path.parent, path if path.suffix == ".py" else None)
        if remote is not None:
            path = path.parent / f"{remote.modeling}.py"
    return Source(path=path, text=read_text(path), model_type=_model_type_of(path), release=release_of(path), remote=remote)


def _resolve_name(name: str) -> Source:
    root = transformers_root()
    if root is None:
        raise ArchreadError(f"'{name}' is not a file, and transformers is not installed to look it up")
    key = name.lower().replace("-", "_")
    path = root / "models" / key / f"modeling_{key}.py"
    if not path.is_file():
        known = model_types(root)
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ArchreadError(f"unknown model '{name}' in transformers {release_of(root / 'models') or ''}".rstrip() + hint)
    return Source(path=path, text=read_text(path), model_type=key, release=release_of(path))
