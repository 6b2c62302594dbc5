"""What a module imports from where: its `from X import …` statements and the names the framework gives it."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.nodes import dotted

# torch's builders of a custom C++/CUDA extension: a call compiles and loads it
CPP_EXTENSION_LOADERS = ("torch.utils.cpp_extension.load", "torch.utils.cpp_extension.load_inline")

# the imports a reduced module may always have, put back by the imports pass where a folded guard held them
STANDARD_IMPORTS = {"torch": "import torch", "nn": "from torch import nn", "math": "import math",
                    "F": "import torch.nn.functional as F"}


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


def framework_modules(module: cst.Module) -> dict[str, str]:
    """Name -> the transformers module it stands for, as module-level `import transformers` (`import
    transformers.modeling_utils`, `import transformers.modeling_utils as mu`) binds it: what
    `transformers.PreTrainedModel` is read through."""
    names = {}
    for stmt in module.body:
        for small in getattr(stmt, "body", ()) if type(stmt) is cst.SimpleStatementLine else ():
            for alias in small.names if type(small) is cst.Import else ():
                if alias.evaluated_name.split(".")[0] == "transformers":
                    names[alias.evaluated_alias or "transformers"] = alias.evaluated_name if alias.asname else "transformers"
    return names


def framework_attribute(name: str, modules: dict[str, str]) -> bool:
    """`transformers.PreTrainedModel`, `transformers.modeling_utils.PreTrainedModel`: a framework name read through
    the package, as an imported one is; a model's (`modeling_jamba.HybridMambaAttentionDynamicCache` under
    `import transformers.models.jamba.modeling_jamba as modeling_jamba`) is math."""
    head, _, rest = name.partition(".")
    if not rest or head not in modules:
        return False
    full = f"{modules[head]}.{rest}".split(".")
    return not (len(full) > 3 and full[1] == "models" and full[3].startswith("modeling_"))


def _sibling(imp: cst.ImportFrom) -> bool:
    """`from ..llama.modeling_llama import X`: another model's math, not the framework."""
    source = dotted(imp.module) if imp.module else ""
    return source.rsplit(".", 1)[-1].startswith("modeling_") and (len(imp.relative) == 2 or ".models." in source)
