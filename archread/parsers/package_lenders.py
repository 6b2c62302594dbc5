"""Which of its own package's files a remote-code module reads a definition from.

Remote code outside a transformers tree takes its math from files of its own: siblings (`from .blocks import
MPTBlock`), a parent package's modules (`from ..modules import ShortConvolution`) or its package named in full
(`from fla.layers.abc import ABCAttention`, `from olmo.model import OLMo`). Those files lend their definitions
as other models' modeling files do. A configuration module lends all but its configuration classes (those
stand for the configuration, which the reader folds): the enums, dataclasses and helpers the model uses from it
are the model's code (LLaDA's `ModelConfig`, `ActivationType`). A kernel module
(one that imports triton or builds a C++/CUDA extension) is the fast path the torch code stands for, so its
import stays and the reader sees it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import libcst as cst

from archread.parsers.analysis.nodes import dotted

_EXTENSION_BUILDER = "torch.utils.cpp_extension"


def _beside(here: Path) -> Path | None:
    """The folder holding here's top-level package (the first folder up without an __init__.py)."""
    folder = here.parent
    if not (folder / "__init__.py").is_file():
        return None
    while (folder.parent / "__init__.py").is_file():
        folder = folder.parent
    return folder.parent


def module_file(base: Path, parts: list[str]) -> Path | None:
    """The file of module `parts` under base: `parts.py`, or the package `parts/__init__.py`."""
    target = base.joinpath(*parts) if parts else base
    for path in (target.with_suffix(".py"), target / "__init__.py"):
        if path.is_file():
            return path
    return None


def is_kernel(path: Path) -> bool:
    """The file imports triton or torch's C++ extension builder (read from its imports: `from mla_triton import
    triton_mla` names a sibling, not triton)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        if any(m.split(".")[0] == "triton" or m.startswith(_EXTENSION_BUILDER) for m in modules):
            return True
    return False


def relative_kernel(imp: cst.ImportFrom, folder: Path) -> Path | None:
    """The kernel module of the repo in folder that a relative `from .util import …` there reads (CogVLM's triton
    rotary): it lends nothing, and its import is what the reduced module has of those names."""
    if not imp.relative:
        return None
    base = folder
    for _ in range(len(imp.relative) - 1):
        base = base.parent
    path = module_file(base, dotted(imp.module).split(".") if imp.module else [])
    return path if path is not None and is_kernel(path) else None


def relative_siblings(module: cst.Module, here: Path) -> cst.Module:
    """A flat repo's absolute imports of its own files (`from qlinear import QLinear` beside qlinear.py, no
    __init__.py: the folder is on sys.path when it runs) read as the relative imports they stand for."""
    folder = Path(os.path.abspath(here)).parent
    if (folder / "__init__.py").is_file():
        return module
    body = list(module.body)
    for i, stmt in enumerate(body):
        imp = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        if type(imp) is cst.ImportFrom and not imp.relative and type(imp.module) is cst.Name \
                and (folder / f"{imp.module.value}.py").is_file() and imp.module.value != here.stem:
            body[i] = stmt.with_changes(body=[imp.with_changes(relative=[cst.Dot()])])
    return module.with_changes(body=body) if body != list(module.body) else module


def package_module(imp: cst.ImportFrom, here: Path) -> Path | None:
    """The file of here's own repo or package `from <module> import …` reads, if it is one that lends."""
    parts = dotted(imp.module).split(".") if imp.module else []
    level = len(imp.relative)
    if level:
        base = here.parent
        for _ in range(level - 1):
            base = base.parent
        path = module_file(base, parts)
    else:  # the package here lives in, named in full (a namespace package has no __init__.py to find it by), or
        # one beside here's top package (hf_olmo's `from olmo.model import OLMo`)
        top = next((folder for folder in here.parents if parts and folder.name == parts[0]), None)
        base = top.parent if top is not None else _beside(here)
        if base is None or not parts or not (base / parts[0]).is_dir():
            return None
        path = module_file(base, parts)
    if path is None or path == here or is_kernel(path):
        return None
    return path


_CONFIG_BASES = ("PretrainedConfig", "PreTrainedConfig")


def configuration_classes(module: cst.Module) -> set[str]:
    """The configuration classes a module defines: built on PretrainedConfig (or on one of its own that is), or
    setting `model_type`."""
    found: set[str] = set()
    classes = [s for s in module.body if type(s) is cst.ClassDef]
    for _ in classes:  # a subclass of a configuration class found on an earlier round
        for cls in classes:
            bases = {dotted(b.value).rsplit(".", 1)[-1] for b in cls.bases}
            sets_type = any(type(line) is cst.SimpleStatementLine and type(line.body[0]) is cst.Assign
                            and any(dotted(t.target) == "model_type" for t in line.body[0].targets)
                            for line in cls.body.body)
            if bases & {*_CONFIG_BASES, *found} or sets_type:
                found.add(cls.name.value)
    return found
