"""A repo that imports itself by name: `from glm_model.configuration_glm import GLMConfig` in a repo checked out as
`glm_model/`. Its authors ran it from the folder above, where that name is the repo; here the repo is imported as
its own package (original.repo_package), so the name is made to stand for that package, module for module: the
configuration class the modeling file imports by that name is the very class archread builds the configuration
with."""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

from archread.runtime.repo_files import inside_try, parsed_files


def own_names(folder: Path) -> set[str]:
    """Top-level names the repo's files import absolutely, outside any `try`, that are the repo itself: nothing
    installed provides them, and they are the folder's own name or the rest of the import is one of the folder's
    modules. A guarded import is an optional package the code runs without (MPT's `from flash_attn.flash_attn_triton
    import …` beside its own copy of that file): it is never the repo."""
    found = set()
    for _, tree in parsed_files(folder):
        guarded = inside_try(tree)
        for node in (n for n in ast.walk(tree) if id(n) not in guarded):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for parts in (n.split(".") for n in names):
                inside = len(parts) > 1 and ((folder / f"{parts[1]}.py").is_file() or (folder / parts[1] / "__init__.py").is_file())
                if (parts[0] == folder.name or inside) and parts[0] not in sys.stdlib_module_names:
                    found.add(parts[0])
    return {name for name in found if not _provided(name)}


def _provided(name: str) -> bool:
    if any(isinstance(f, _Alias) and f.alias == name for f in sys.meta_path):
        return False  # by an earlier alias, not by anything installed
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`alias` and `alias.x` are `package` and `package.x`: the same module objects, imported once."""

    def __init__(self, alias: str, package: str):
        self.alias, self.package = alias, package
        self._specs: dict[str, object] = {}

    def find_spec(self, name, path=None, target=None):
        if name != self.alias and not name.startswith(self.alias + "."):
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name == self.alias)

    def create_module(self, spec):
        module = importlib.import_module(self.package + spec.name[len(self.alias):])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):  # imported already under the package's name: it keeps that spec
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


def alias_repo(folder: Path, package: str) -> None:
    """Make each name the repo imports itself by stand for package (another repo's alias of it is replaced)."""
    for name in sorted(own_names(folder)):
        sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, _Alias) and f.alias == name)]
        sys.meta_path.append(_Alias(name, package))
