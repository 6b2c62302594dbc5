"""Custom extensions: a C++/CUDA extension the module compiles when imported is named, never built.

`ext = torch.utils.cpp_extension.load(name="ext_cpp", sources=["ext.cpp"])` at module level runs a compiler on
a file beside the code (often absent) as soon as the module is imported. The reduced module must import on its
own, so the assignment becomes `ext = custom_extension("ext_cpp", ["ext.cpp"])` (archread.prelude): importing
works, and a call into it says which extension the math needs. The reduction warns that the model's math runs
through an extension it cannot read. A load under `try`/`except` with a fallback is the optional kernels' pass's.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.module_imports import loader_bindings
from archread.parsers.analysis.nodes import dotted
from archread.parsers.passes.base import StripPass


def _loaders(module: cst.Module) -> dict[str, str]:
    """Local dotted name → the cpp_extension builder it is, from the module-level imports."""
    names = {}
    for line in (s for s in module.body if type(s) is cst.SimpleStatementLine):
        for small in line.body:
            if type(small) is cst.ImportFrom and not small.relative and small.module and not isinstance(small.names, cst.ImportStar):
                pairs = [(a.evaluated_name, a.evaluated_alias) for a in small.names]
                names |= loader_bindings(dotted(small.module), pairs)
            elif type(small) is cst.Import:
                names |= loader_bindings(None, [(a.evaluated_name, a.evaluated_alias) for a in small.names])
    return names


def _string(node: cst.BaseExpression | None) -> cst.BaseExpression | None:
    return node if type(node) is cst.SimpleString else None


class CustomExtensions(StripPass):
    NAME = "custom_extensions"
    DESCRIPTION = "A C++ extension compiled at import (cpp_extension.load): named by a stand-in that is never built."
    STRIP = [(
        "from torch.utils.cpp_extension import load\next = load(name='ext_cpp', sources=['ext.cpp'], verbose=True)\n"
        "def f(x):\n    return ext.gemm(x)\n",
        "from torch.utils.cpp_extension import load\next = custom_extension('ext_cpp', ['ext.cpp'])\n"
        "def f(x):\n    return ext.gemm(x)\n",
    ), (
        "import torch.utils.cpp_extension as ce\nops = ce.load_inline('ops', cpp_sources=src)\n",
        "import torch.utils.cpp_extension as ce\nops = custom_extension('ops', [])\n",
    )]
    KEEP = [
        "from torch.utils.cpp_extension import load\ndef build():\n    return load(name='ext', sources=['ext.cpp'])\n",  # not at import
        "from mylib import load\next = load(name='ext', sources=['ext.cpp'])\n",  # another library's load
    ]

    def visit_Module(self, node: cst.Module) -> None:
        self._loaders = _loaders(node)
        self._inside = 0  # depth in a class, function or try: only what runs at import, unguarded, is this pass's

    def _enter(self, node) -> None:
        self._inside += 1

    def _leave(self, original, updated):
        self._inside -= 1
        return updated

    visit_ClassDef = visit_FunctionDef = visit_Try = _enter
    leave_ClassDef = leave_FunctionDef = leave_Try = _leave

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        loader = self._loaders.get(dotted(updated.func)) if self._loaders and not self._inside else None
        if loader is None:
            return updated
        keywords = {a.keyword.value: a.value for a in updated.args if a.keyword}
        positional = [a.value for a in updated.args if not a.keyword]
        name = _string(keywords.get("name", positional[0] if positional else None)) or cst.SimpleString("None")
        sources = keywords.get("sources", positional[1] if len(positional) > 1 and loader.endswith(".load") else None)
        files = [e for e in getattr(sources, "elements", ()) if _string(e.value)]
        listed = cst.List([cst.Element(e.value) for e in files])
        self.ctx.warn(f"the model calls a custom C++ extension ({name.value}, {loader} at import): its math is not in "
                      "this file; the reduced module names it and cannot run it")
        return cst.Call(cst.Name("custom_extension"), [cst.Arg(name), cst.Arg(listed)])
