"""What a module imports from where: its `from X import …` statements and the names the framework gives it."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted

# torch's builders of a custom C++/CUDA extension: a call compiles and loads it
CPP_EXTENSION_LOADERS = ("torch.utils.cpp_extension.load", "torch.utils.cpp_extension.load_inline")


def loader_bindings(module: str | None, aliases: list[tuple[str, str | None]]) -> dict[str, str]:
    """Local dotted name → the C++-extension loader one import binds: `from MODULE import name as alias`, or a plain
    `import name as alias` where module is None (`from torch.utils.cpp_extension import load`, `import torch`)."""
    names = {}
    for name, alias in aliases:
        full = f"{module}.{name}" if module else name
        for loader in CPP_EXTENSION_LOADERS:
            if module and (loader == full or loader.startswith(full + ".")):
                names[(alias or name) + loader[len(full):]] = loader
            elif not module and loader.startswith(full + "."):
                names[alias + loader[len(full):] if alias else loader] = loader
    return names


def top_imports(module: cst.Module) -> list[cst.ImportFrom]:
    """`from X import ...` at module level or one `if`/`try` down (TYPE_CHECKING, is_*_available blocks)."""
    found = []
    for stmt in module.body:
        blocks = [stmt]
        if isinstance(stmt, (cst.If, cst.Try)):
            blocks = [s for s in stmt.body.body]
            orelse = getattr(stmt, "orelse", None)
            if isinstance(orelse, cst.Else):
                blocks += list(orelse.body.body)
        for s in blocks:
            if isinstance(s, cst.SimpleStatementLine):
                found += [small for small in s.body if isinstance(small, cst.ImportFrom)]
    return found


def framework_names(module: cst.Module) -> set[str]:
    """Names imported from transformers itself, except from other models' modeling files."""
    names = set()
    for imp in top_imports(module):
        source = dotted(imp.module) if imp.module else ""
        framework = bool(imp.relative) or source.startswith("transformers")
        if framework and not _sibling(imp) and not isinstance(imp.names, cst.ImportStar):
            names.update(a.evaluated_alias or a.evaluated_name for a in imp.names)
    return names


def _sibling(imp: cst.ImportFrom) -> bool:
    """`from ..llama.modeling_llama import X`: another model's math, not the framework."""
    source = dotted(imp.module) if imp.module else ""
    return source.rsplit(".", 1)[-1].startswith("modeling_") and (len(imp.relative) == 2 or ".models." in source)
