"""A repo that imports itself by name: `from glm_model.configuration_glm import GLMConfig` in a repo checked out as
`glm_model/`. Its authors ran it from the folder above, where that name is the repo; here the repo is imported as
its own package (original.repo_package), so the name is made to stand for that package, module for module: the
configuration class the modeling file imports by that name is the very class archread builds the configuration
with.

A flat repo run from its own folder imports its files by bare name (`from mla_attention import …`, which
`from modeling_minicpm import *` back): each such name is made to stand for that file of the package, so the
modeling file archread imports as `package.modeling_minicpm` is the very module its siblings import back, not a
second copy that re-runs it (a circular import its authors never met) with classes of its own."""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

from archread.runtime.repo_files import inside_try, parsed_files


def own_names(folder: Path) -> set[str]:
    """Top-level names the repo's files import absolutely, outside any `try`, that are the repo itself: nothing
    installed provides them, and they are the folder's own name or the rest of the import is one of the folder's
    modules. A guarded import is an optional package the code runs without (MPT's `from flash_attn.flash_attn_triton
    import …` beside its own copy of that file): it is never the repo."""
    imports = list(_absolute_imports(folder))
    found = {prefix for parts, guarded in imports if not guarded and (prefix := _prefix(folder, parts))
             and not _inside_package(folder, prefix)}
    # every module imported under it must be the folder's (Evo's `flash_attn.layers.rotary` beside its own
    # layers.py is flash-attn: `flash_attn.modules.mha` is no file of the repo)
    found = {name for name in found if name == folder.name or all(
        _is_module_of(folder, parts[len(name.split(".")):]) for parts, _ in imports
        if parts[:len(name.split("."))] == name.split(".") and len(parts) > len(name.split(".")))}
    return {name for name in found if not _provided(name.split(".")[0])}


def _inside_package(folder: Path, prefix: str) -> bool:
    """The folder lies in its checkout inside the package the dotted name names (fla/models/gla for
    `fla.models.gla`): that name is the package itself, which its authors installed, not a copy to stand in for."""
    parts = prefix.split(".")
    if len(parts) < 2 or len(folder.parents) < len(parts) or list(folder.parts[-len(parts):]) != parts:
        return False
    return (folder.parents[len(parts) - 2] / "__init__.py").is_file()


def _prefix(folder: Path, parts: list[str]) -> str | None:
    """The dotted name an import reaches the folder by: the folder's own name, else what comes before the
    first part that is one of its files (`utils.model_minimax` of `utils.model_minimax.configuration_x`, a folder
    its authors imported from the repo's root)."""
    if parts[0] == folder.name:
        return parts[0]
    at = next((k for k in range(1, len(parts)) if _is_file_of(folder, parts[k])), None)
    return ".".join(parts[:at]) if at is not None else None


def sibling_names(folder: Path) -> set[str]:
    """Top-level names the repo's files import absolutely that are one of its own files (`mla_attention` beside
    mla_attention.py), guarded or not (the file is there either way), where nothing installed has that name
    (installed packages come first on sys.path, as they do here) and it is no standard module."""
    found = {parts[0] for parts, _ in _absolute_imports(folder) if _is_file_of(folder, parts[0])}
    repos = _repo_folders() | {folder.resolve()}
    return {name for name in found if not _installed(name, repos)}


def _absolute_imports(folder: Path):
    """(the dotted parts of each module an absolute import of the repo's files names, whether it sits in a `try`),
    standard modules left out."""
    for _, tree in parsed_files(folder):
        guarded = inside_try(tree)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for parts in (n.split(".") for n in names):
                if parts[0] not in sys.stdlib_module_names:
                    yield parts, id(node) in guarded


def _is_module_of(folder: Path, parts: list[str]) -> bool:
    """parts (`layers`, `rotary`) name a module file of the folder, or a name one of them defines."""
    for end in range(len(parts), 0, -1):
        path = folder.joinpath(*parts[:end])
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return end >= len(parts) - 1  # `pkg.module` or `pkg.module.attribute`
    return False


def _is_file_of(folder: Path, name: str) -> bool:
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _repo_folders() -> set[Path]:
    """The folders of the repos imported so far (original.repo_package's packages), which sys.path holds too."""
    return {Path(p).resolve() for n, m in list(sys.modules.items()) if n.startswith("archread_repo_") and m is not None
            for p in getattr(m, "__path__", ())}


def _installed(name: str, repos: set[Path]) -> bool:
    """A finder other than the aliases finds name outside every repo's folder."""
    for finder in (f for f in sys.meta_path if not isinstance(f, _Alias) and hasattr(f, "find_spec")):
        try:
            spec = finder.find_spec(name, None)
        except (ImportError, ValueError, AttributeError):
            continue
        if spec is None:
            continue
        where = spec.origin if spec.origin not in (None, "namespace") else next(iter(spec.submodule_search_locations or ()), None)
        if where is None or not any(Path(where).resolve().is_relative_to(r) for r in repos):
            return True
    return False


def _provided(name: str) -> bool:
    if any(isinstance(f, _Alias) and f.alias == name for f in sys.meta_path):
        return False  # by an earlier alias, not by anything installed
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`alias` and `alias.x` are `package` and `package.x`: the same module objects, imported once."""

    def __init__(self, alias: str, package: str, is_package: bool = True):
        self.alias, self.package, self.is_package = alias, package, is_package
        self._specs: dict[str, object] = {}

    def find_spec(self, name, path=None, target=None):
        if name != self.alias and not name.startswith(self.alias + "."):
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name == self.alias and self.is_package)

    def create_module(self, spec):
        module = importlib.import_module(self.package + spec.name[len(self.alias):])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):  # imported already under the package's name: it keeps that spec
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


def alias_repo(folder: Path, package: str) -> None:
    """Make each name the repo imports itself by stand for package, and each of its files imported by bare name
    stand for that file of package (another repo's alias of a name is replaced)."""
    siblings = sibling_names(folder)
    for name in sorted(own_names(folder) | siblings):
        sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, _Alias) and f.alias == name)]
        if name in siblings:  # ahead of the path finder, which would find the file itself on sys.path
            sys.meta_path.insert(0, _Alias(name, f"{package}.{name}", (folder / name / "__init__.py").is_file()))
            stale = sys.modules.get(name)  # another repo's file of that name, imported by it earlier
            if stale is not None and stale is not sys.modules.get(f"{package}.{name}"):
                for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                    del sys.modules[key]
        else:
            _parents(name)
            sys.meta_path.append(_Alias(name, package))


def _parents(name: str) -> None:
    """`utils` for the alias `utils.model_minimax`: an empty package (with a spec, which import machinery asks
    after), so that the import reaches the alias."""
    parts = name.split(".")
    for end in range(1, len(parts)):
        synthetic_package(".".join(parts[:end]), [])


def synthetic_package(name: str, locations: list[str]) -> None:
    """A package module `name` whose submodules are found in `locations`, no __init__ of it run."""
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = locations
        sys.modules[name] = importlib.util.module_from_spec(spec)
