"""What a repo's code needs at import that no transformers release or package can give, read without running it:
a file of its own folder that it imports and the folder lacks (`from .configuration_x import XConfig` beside no
configuration_x.py), and a custom C++ extension it compiles at import (`torch.utils.cpp_extension.load`).

Only imports that run when the module does count: module level, also inside an `if`, never inside a `try`
(a guarded import has its fallback) nor in a function body (it may never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

from archread.parsers.analysis.module_imports import loader_bindings
from archread.parsers.package_lenders import module_file

# an absolute import of these is a sibling file by transformers' naming of remote code (a flat repo's
# `from configuration_deepseek import …`), not a package to install
_OWN_FILE_PREFIXES = ("configuration_", "modeling_", "modelling_")


def unmet_needs(folder: Path, modeling: Path) -> list[str]:
    """One sentence per need of the modeling file (and of the sibling files it imports) that the folder cannot meet."""
    problems, seen, todo = [], set(), [modeling]
    while todo:
        path = todo.pop(0)
        if path.name in seen or not path.is_file():
            continue
        seen.add(path.name)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue  # the reading reports it
        statements = list(_run_at_import(tree.body))
        missing = []
        for stmt in (s for s in statements if isinstance(s, ast.ImportFrom)):
            for name in _own_modules(stmt, folder):
                if (folder / f"{name}.py").is_file():
                    todo.append(folder / f"{name}.py")
                elif not (folder / name).is_dir() and name not in missing:
                    missing.append(name)
        if missing:
            files = ", ".join(f"{m}.py" for m in missing)
            problems.append(f"{path.name} imports {', '.join('.' + m for m in missing)} from its own folder, which "
                            f"lacks {files} (missing from the repo)")
        above = [f"{'.' * s.level}{s.module or ''}" for s in statements if isinstance(s, ast.ImportFrom)
                 and s.level > 1 and not _found_above(folder, s)]
        if above:  # the folder sat inside a larger package (`from ...utils.torch_utils import skip_init`)
            problems.append(f"{path.name} imports {', '.join(dict.fromkeys(above))} from outside its own folder, "
                            "which is not there (missing from the repo)")
        problems += [f"{path.name}:{line}: {text}" for line, text in _extensions(statements)]
    return problems


def _found_above(folder: Path, stmt: ast.ImportFrom) -> bool:
    """The module `from ..x.y import z` names exists on disk, counting package levels up from folder."""
    if len(folder.parents) < stmt.level - 1:
        return False
    base = folder.parents[stmt.level - 2]
    if stmt.module:
        return module_file(base, stmt.module.split(".")) is not None
    return module_file(base, []) is not None or all(module_file(base, [a.name]) is not None for a in stmt.names)


def _run_at_import(body: list[ast.stmt]):
    """The statements of a module body that run when it is imported, `if` branches included."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _run_at_import(stmt.body)
            yield from _run_at_import(stmt.orelse)
        elif not isinstance(stmt, (ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt


def _own_modules(stmt: ast.ImportFrom, folder: Path) -> list[str]:
    """The modules of the repo's own folder an import names (`.x`, `from . import x`, a flat repo's `configuration_x`)."""
    if stmt.level == 1 and stmt.module:
        return [stmt.module.split(".")[0]]
    if stmt.level == 1:  # `from . import x`: a file, unless the folder is a package whose __init__ defines x
        return [] if (folder / "__init__.py").is_file() else [a.name for a in stmt.names]
    if stmt.level == 0 and stmt.module and "." not in stmt.module and stmt.module.startswith(_OWN_FILE_PREFIXES):
        return [stmt.module]
    return []


def _extensions(statements: list[ast.stmt]) -> list[tuple[int, str]]:
    """(line, sentence) for each custom extension the statements build: `load(name=…, sources=[…])` of
    torch.utils.cpp_extension, however imported."""
    loaders = _loader_names(statements)
    found = []
    for stmt in statements:
        for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
            if _dotted(call.func) in loaders:
                name, sources = extension_of(call)
                what = f"the custom C++ extension {name or '(unnamed)'}" + (f" from {', '.join(sources)}" if sources else "")
                found.append((call.lineno, f"builds {what} with {loaders[_dotted(call.func)]} at import: that needs a "
                                           "compiler and the extension's source; archread does not build it"))
    return found


def extension_of(call: ast.Call) -> tuple[str | None, list[str]]:
    """(name, source files) of a cpp_extension load call, where written as literals."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    name = keywords.get("name", call.args[0] if call.args else None)
    sources = keywords.get("sources", call.args[1] if len(call.args) > 1 else None)
    text = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
    files = [e.value for e in getattr(sources, "elts", []) if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return text, files


def _loader_names(statements: list[ast.stmt]) -> dict[str, str]:
    """Local dotted name → the loader it is, from the module's imports."""
    names = {}
    for stmt in statements:
        if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
            names |= loader_bindings(stmt.module, [(a.name, a.asname) for a in stmt.names])
        elif isinstance(stmt, ast.Import):
            names |= loader_bindings(None, [(a.name, a.asname) for a in stmt.names])
    return names


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""
