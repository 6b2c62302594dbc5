"""Imports: torch and math stay; the framework's names come from archread's prelude or are reported."""

from __future__ import annotations

import builtins
import symtable
import sys
from pathlib import Path

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.module_imports import STANDARD_IMPORTS
from archread.parsers.analysis.names import bound_names, names_in
from archread.parsers.analysis.nodes import dotted, find, untrailed
from archread.parsers.analysis.rewrite import AttributeAsName
from archread.parsers.fastcst import code_of, walk
from archread.parsers.package_lenders import relative_kernel
from archread.parsers.passes.base import StripPass
from archread.parsers.prelude_names import PRELUDE_MODULE, prelude_names, stands_in
from archread.parsers.source import tree_of

# torch, math and the standard library's helpers (copy, itertools) stay; typing and the framework go
_DROPPED_STDLIB = {"typing", "typing_extensions", "dataclasses", "warnings", "logging", "collections.abc", "__future__"}
_KEPT_ROOTS = tuple(sorted(set(sys.stdlib_module_names) - _DROPPED_STDLIB | {"torch"}))
# the framework's own packages: what the model takes from them comes from the prelude (or is reported)
_FRAMEWORK = {"transformers", "huggingface_hub", "accelerate", "safetensors", "tokenizers", "packaging"}


def _module_of(stmt: cst.BaseSmallStatement) -> str:
    if isinstance(stmt, cst.ImportFrom):
        return "." * len(stmt.relative) + (dotted(stmt.module) if stmt.module else "")
    return dotted(stmt.names[0].name)


def _bound(alias: cst.ImportAlias) -> str:
    return alias.evaluated_alias or alias.evaluated_name.split(".")[0]


class Imports(StripPass):
    NAME = "imports"
    DESCRIPTION = "Framework and typing imports; unused imports. Adds the prelude import the code needs."
    STRIP = [(
        "import torch\nimport typing\nfrom torch import nn\nfrom ...activations import ACT2FN\nclass AForCausalLM(nn.Module):\n"
        "    def forward(self, x):\n        return ACT2FN['silu'](x)\n",
        "from torch import nn\nfrom archread.prelude import ACT2FN\n\n\nclass AForCausalLM(nn.Module):\n    def forward(self, x):\n"
        "        return ACT2FN['silu'](x)\n",
    ), (  # einops imported as a module: its functions by name, the prelude's
        "import einops\ndef f(x):\n    return einops.rearrange(x, 'b h d -> b (h d)')\n",
        "from archread.prelude import rearrange\ndef f(x):\n    return rearrange(x, 'b h d -> b (h d)')\n",
    ), (  # remote code's einops: the prelude has its own rearrange
        "from einops import rearrange\ndef f(x):\n    return rearrange(x, 'b h d -> b (h d)')\n",
        "from archread.prelude import rearrange\n\n\ndef f(x):\n    return rearrange(x, 'b h d -> b (h d)')\n")]
    STRIP += [(  # … also imported where it is used
        "def f(x):\n    from einops import rearrange\n    return rearrange(x, 'b h d -> b (h d)')\n",
        "def f(x):\n    from archread.prelude import rearrange\n    return rearrange(x, 'b h d -> b (h d)')\n")]
    STRIP += [(  # packaging's check of torch's version: torch's own version object compares the same
        "import torch\nfrom packaging import version\ndef f(x):\n    if version.parse(torch.__version__) < version.parse('2.0'):\n"
        "        return x\n    return -x\n",
        "import torch\n\n\ndef f(x):\n    if torch.__version__ < '2.0':\n        return x\n    return -x\n")]
    STRIP += [(  # two modules pasted into one file: the prelude comes with the first imports, before any use
        "import torch\nfrom ...activations import ACT2FN\nclass A(nn.Module):\n    def forward(self, x):\n        return ACT2FN['silu'](x)\n"
        "import math\nclass B(A):\n    def forward(self, x):\n        return math.sqrt(ACT2FN['silu'](x))\n",
        "from torch import nn\nfrom archread.prelude import ACT2FN\n\n\nclass A(nn.Module):\n    def forward(self, x):\n        return ACT2FN['silu'](x)\n"
        "import math\n\n\nclass B(A):\n    def forward(self, x):\n        return math.sqrt(ACT2FN['silu'](x))\n")]
    STRIP += [(  # the configuration from the package, or from beside the file: the package's, as a plain import
        "try:\n    from .configuration_a import AConfig\nexcept ImportError:\n    from configuration_a import AConfig\n"
        "import torch\ndef f(x):\n    return torch.relu(x)\n",
        "import torch\n\n\ndef f(x):\n    return torch.relu(x)\n")]
    KEEP = ["import math\nx = math.pi\n",
            # a fallback from one third-party package to another: which one is there decides
            "try:\n    from fast_ops import act\nexcept ImportError:\n    from slow_ops import act\ndef f(x):\n    return act(x)\n",
            "from einops import reduce\ndef f(x):\n    return reduce(x, 'b h d -> b d', 'sum')\n"]  # what it lacks stays

    _depth = 0
    _parsers: frozenset = frozenset()

    def visit_Module(self, node) -> None:
        self._parsers = frozenset(version_parsers(node))

    def leave_Comparison(self, original, updated):
        """`version.parse(torch.__version__) < version.parse('2.0.0')` reads as `torch.__version__ < '2.0.0'`:
        torch.__version__ is a TorchVersion, which compares with version strings itself, so the check of the
        torch it runs on stays and packaging goes with the framework."""
        sides = [updated.left] + [c.comparator for c in updated.comparisons]
        parsed = [_parsed_argument(side, self._parsers) for side in sides]
        if any(p is None for p in parsed) or not any(dotted(p) == "torch.__version__" for p in parsed):
            return updated
        comparisons = [c.with_changes(comparator=p) for c, p in zip(updated.comparisons, parsed[1:])]
        return updated.with_changes(left=parsed[0], comparisons=comparisons)

    def leave_ImportFrom(self, original, updated):
        """Inside a function (remote code's lazy `from einops import rearrange`): the prelude's own, in place.
        Module-level imports are sorted out in leave_Module."""
        root = (dotted(updated.module) if updated.module and not updated.relative else "").split(".")[0]
        if not root or self._depth == 0 or not _stood_in(updated, root):
            return updated
        return updated.with_changes(module=cst.parse_expression(PRELUDE_MODULE))

    def visit_FunctionDef(self, node) -> None:
        self._depth += 1

    def leave_FunctionDef(self, original, updated):
        self._depth -= 1
        return updated

    def leave_Module(self, original, updated):
        updated = _names_of_stood_in_modules(updated.with_changes(body=[s for stmt in updated.body for s in _first_alternative(stmt)]))
        code = code_of(updated.with_changes(body=[s for s in updated.body if not _is_import(s)]))
        used = global_reads(code)
        defined = set().union(*(_top_level_names(s) for s in updated.body))
        body, dropped, lazy_imports = [], {}, {}
        for stmt in updated.body:
            if not _is_import(stmt):
                body.append(stmt)
                continue
            small = stmt.body[0]
            source = _module_of(small)
            root = source.split(".")[0]
            third_party = bool(root) and root not in _KEPT_ROOTS and root not in _FRAMEWORK and root not in _DROPPED_STDLIB
            kernel = self._kernel(small)
            third_party = third_party or kernel
            if third_party and _stood_in(small, root):  # the prelude's own rearrange comes in below, as helpers do
                third_party = False
                dropped.update({_bound(a): source for a in small.names})
                continue
            keep_module = (root in _KEPT_ROOTS and source not in _DROPPED_STDLIB) or third_party
            # typing, logging, dataclasses go with what read them (annotations, log calls); where the math still
            # reads one (`cast(...)`, a borrowed module's `logging.getLogger`), its import stays, or it is undefined
            keep_module = keep_module or ((root in _DROPPED_STDLIB or source in _DROPPED_STDLIB) and root != "__future__")
            if isinstance(small.names, cst.ImportStar):
                self.ctx.remove(self.NAME, stmt)
                continue
            aliases = [a for a in small.names if keep_module and _bound(a) in used]
            for a in small.names:
                if not keep_module:
                    dropped[_bound(a)] = _module_of(small)
            lazy = _lazy_sites(updated.body, {_bound(a) for a in aliases}) if aliases and kernel else None
            if lazy:  # imported where it is called: the module imports without the repo, and its other paths run
                line = stmt.with_changes(body=[small.with_changes(names=untrailed(aliases))], leading_lines=[])
                lazy_imports[id(stmt)] = (line, lazy)
                self.ctx.warn(f"the reduced module imports {source}, a kernel module of the repo (triton or a C++/CUDA "
                              f"extension), where {', '.join(lazy.values())} calls it: that path needs the repo")
                continue
            if aliases and kernel:  # the repo's own triton/C++ kernel, with no torch path in the file
                self.ctx.warn(f"the reduced module imports {source}, a kernel module of the repo (triton or a C++/CUDA "
                              "extension) it cannot import outside the repo")
            elif aliases and third_party:  # remote code's einops: the math needs it, so the reader must have it too
                self.ctx.warn(f"the reduced module imports {root}, which is neither torch, math nor the prelude")
            if aliases:
                aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                body.append(stmt.with_changes(body=[small.with_changes(names=aliases)]))
            if len(aliases) < len(small.names):
                self.ctx.removed[self.NAME] += 1 if not aliases else 0
        body = [s for s in body if not _unused_submodule(s, body, code)]
        for line, sites in lazy_imports.values():
            body = [_import_inside(s, line, sites) for s in body]
        self.ctx.imported.update(dropped)
        missing = used - defined - set(dir(builtins)) - _imported_names(body)
        restored = [STANDARD_IMPORTS[n] for n in sorted(missing & set(STANDARD_IMPORTS))]  # imported under a guard the guards pass folded
        body = [cst.parse_statement(line) for line in restored] + body
        missing -= set(STANDARD_IMPORTS)
        # a kernel imported under a probe that folded, still read (a backend class that had to stay calls
        # flash_attn_func): None, as the probe leaves it here; the module imports, that path fails as the original's
        absent = sorted(missing & self.ctx.absent_kernels - prelude_names())
        missing -= set(absent)
        wanted = sorted(missing & prelude_names())
        helpers = [cst.parse_statement(f"{name} = None") for name in absent]
        for name in sorted(missing - prelude_names()):
            where = dropped.get(name)
            helper = _configuration_helper(self.ctx.folder, where, name) if where else None
            if helper is not None:
                helpers.append(helper.with_changes(leading_lines=[]))
                continue
            self.ctx.warn(f"unresolved name {name}" + (f" (imported from {where})" if where else ""))
        if helpers:  # after the imports, before the first definition
            first = next((i for i, s in enumerate(body) if not _is_import(s)), len(body))
            body[first:first] = helpers
        if wanted:
            line = cst.parse_statement(f"from {PRELUDE_MODULE} import {', '.join(wanted)}")
            # after the leading imports: a file that imports again further down (two modules pasted into one)
            # defines classes before those that need the prelude already
            leading = next((i for i, s in enumerate(body) if not _is_import(s)), len(body))
            body.insert(leading, line)
        return updated.with_changes(body=body)


    def _kernel(self, small) -> bool:
        """An import of one of the repo's kernel modules (which lends nothing: see package_lenders), relative or, in a
        flat repo run from its folder, by its bare name (`from mla_triton import triton_mla` beside mla_triton.py)."""
        if not isinstance(small, cst.ImportFrom) or self.ctx.folder is None or isinstance(small.names, cst.ImportStar):
            return False
        folder = Path(self.ctx.folder)
        if tree_of(folder / "x.py") is not None:  # remote code's only
            return False
        if not small.relative and type(small.module) is cst.Name and not (folder / "__init__.py").is_file():
            small = small.with_changes(relative=[cst.Dot()])
        return bool(small.relative) and relative_kernel(small, folder) is not None


def _lazy_sites(body: list, names: set[str]) -> dict[int, str] | None:
    """id -> name of each top-level function and method that reads one of names, where every read is inside such
    a body (not in a decorator, a default or a class's own statements) and none is an `__init__` (building the
    module needs it then: the kernel is part of the model, its import stays in view at the top); None otherwise."""
    sites: dict[int, str] = {}
    for stmt in body:
        if _is_import(stmt) or not names & names_in(stmt):
            continue
        if type(stmt) is cst.FunctionDef and _read_in_body(stmt, names):
            sites[id(stmt)] = stmt.name.value
        elif type(stmt) is cst.ClassDef and not names & names_in(stmt.with_changes(body=cst.IndentedBlock([]))):
            for inner in (i for i in stmt.body.body if names & names_in(i)):
                if type(inner) is not cst.FunctionDef or inner.name.value == "__init__" or not _read_in_body(inner, names):
                    return None
                sites[id(inner)] = f"{stmt.name.value}.{inner.name.value}"
        else:
            return None
    return sites or None


def _read_in_body(fn: cst.FunctionDef, names: set[str]) -> bool:
    """Only the function's body reads names (nothing evaluated when it is defined does), and it binds none of them
    (a local of that name is another thing)."""
    return not names & names_in(fn.with_changes(body=cst.IndentedBlock([]))) and not names & set(bound_names(fn.body))


def _import_inside(stmt: cst.CSTNode, line: cst.SimpleStatementLine, sites: dict[int, str]) -> cst.CSTNode:
    """stmt with the import line opening each site function (after its docstring)."""
    def opened(fn: cst.FunctionDef) -> cst.FunctionDef:
        inner = list(fn.body.body)
        at = 1 if inner and m.matches(inner[0], m.SimpleStatementLine([m.Expr(m.SimpleString() | m.ConcatenatedString())])) else 0
        return fn.with_changes(body=fn.body.with_changes(body=[*inner[:at], line, *inner[at:]]))
    if id(stmt) in sites:
        return opened(stmt)
    if type(stmt) is cst.ClassDef and any(id(i) in sites for i in stmt.body.body):
        return stmt.with_changes(body=stmt.body.with_changes(body=[opened(i) if id(i) in sites else i for i in stmt.body.body]))
    return stmt


def version_parsers(module: cst.Module) -> set[str]:
    """The dotted callees that are packaging's version parser under this module's imports (`version.parse`,
    `packaging.version.Version`, `parse` from `from packaging.version import parse`)."""
    found = set()
    for stmt in (s for s in module.body if _is_import(s)):
        small = stmt.body[0]
        if isinstance(small.names, cst.ImportStar):
            continue
        source = _module_of(small)
        for alias in small.names:
            name, bound = alias.evaluated_name, _bound(alias)
            if isinstance(small, cst.Import) and name in ("packaging", "packaging.version"):
                prefix = alias.evaluated_alias or "packaging"
                prefix += ".version" if name == "packaging" or not alias.asname else ""
                found |= {f"{prefix}.parse", f"{prefix}.Version"}
            elif source == "packaging" and name == "version":
                found |= {f"{bound}.parse", f"{bound}.Version"}
            elif source == "packaging.version" and name in ("parse", "Version"):
                found.add(bound)
    return found


def _parsed_argument(node: cst.BaseExpression, parsers: frozenset) -> cst.BaseExpression | None:
    """x of `parser(x)`, where parser is one of packaging's version parsers."""
    if not isinstance(node, cst.Call) or dotted(node.func) not in parsers or len(node.args) != 1 or node.args[0].keyword:
        return None
    return node.args[0].value if not node.args[0].star else None


def _names_of_stood_in_modules(module: cst.Module) -> cst.Module:
    """`import einops` read only as `einops.rearrange(…)`: `from einops import rearrange` and `rearrange(…)`, which
    the prelude stands in for, as for the from-import."""
    for at, stmt in enumerate(module.body):
        small = stmt.body[0] if m.matches(stmt, m.SimpleStatementLine([m.Import()])) else None
        if small is None or len(small.names) != 1 or "." in dotted(small.names[0].name):
            continue
        root, bound = dotted(small.names[0].name), _bound(small.names[0])
        if root not in stands_in():  # `import torch`: nothing to look for
            continue
        rest = module.with_changes(body=[*module.body[:at], *module.body[at + 1:]])
        reads = [n for n in walk(rest) if type(n) is cst.Name and n.value == bound]
        through = [n for n in walk(rest) if type(n) is cst.Attribute and type(n.value) is cst.Name and n.value.value == bound]
        names = sorted({n.attr.value for n in through})
        if not through or len(through) != len(reads) or not set(names) <= stands_in().get(root, frozenset()):
            continue
        body = list(rest.visit(AttributeAsName(bound)).body)
        line = cst.parse_statement(f"from {root} import {', '.join(names)}")
        return module.with_changes(body=[*body[:at], line, *body[at:]])
    return module


def _stood_in(small, root: str) -> bool:
    """`from einops import rearrange, repeat`: every name one the prelude has its own of, under its own name."""
    names = stands_in().get(root)
    return (bool(names) and isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar)
            and all(a.asname is None and a.evaluated_name in names for a in small.names))


def _unused_submodule(stmt: cst.CSTNode, body: list, code: str) -> bool:
    """`import torch.utils.checkpoint` next to `import torch`, with torch.utils.checkpoint read nowhere."""
    if not m.matches(stmt, m.SimpleStatementLine([m.Import()])) or len(stmt.body[0].names) != 1:
        return False
    alias = stmt.body[0].names[0]
    name = dotted(alias.name)
    if alias.asname is not None or "." not in name or name in code:
        return False
    root = name.split(".")[0]
    return any(s is not stmt and _is_import(s) and root in _imported_names([s]) for s in body)


def _configuration_helper(folder: Path | None, module: str, name: str) -> cst.FunctionDef | None:
    """A small function the model imports from its own configuration file (xLSTM's
    round_up_to_next_multiple_of): read from that file, kept if it needs nothing but its arguments."""
    if folder is None or not module.startswith(".configuration_") or module.count(".") != 1:
        return None
    path = folder / f"{module[1:]}.py"
    try:
        tree = cst.parse_module(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, cst.ParserSyntaxError):
        return None
    blocks = [tree.body] + [getattr(s.body, "body", []) for s in tree.body if isinstance(s, (cst.If, cst.Try))]
    blocks += [s.orelse.body.body for s in tree.body if isinstance(s, cst.If) and isinstance(s.orelse, cst.Else)]
    for stmt in (s for block in blocks for s in block):
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name and not stmt.decorators:
            local = {p.name.value for p in stmt.params.params} | {
                n.value for t in find(stmt.body, cst.AssignTarget) for n in find(t.target, cst.Name)}
            if names_in(stmt.body) - local - set(dir(builtins)) - {"math"}:
                return None
            body = list(stmt.body.body)
            if body and m.matches(body[0], m.SimpleStatementLine([m.Expr(m.SimpleString() | m.ConcatenatedString())])):
                body = body[1:] or [cst.SimpleStatementLine([cst.Pass()])]  # its docstring
            plain = [p.with_changes(annotation=None) for p in stmt.params.params]
            return stmt.with_changes(body=stmt.body.with_changes(body=body), returns=None,
                                     params=stmt.params.with_changes(params=plain))
    return None


def _import_lines(block) -> list | None:
    """The statements of a block if each is one import, else None."""
    body = list(getattr(block, "body", ()))
    return body if body and all(_is_import(s) for s in body) else None


def _first_alternative(stmt: cst.CSTNode) -> list:
    """`try: from .configuration_x import C` / `except ImportError: from configuration_x import C` (the same names
    from the package or from beside the file): the package's own or the framework's import, as a plain one would
    be written, for the imports below to sort out. A fallback to another third-party package stays a try."""
    if type(stmt) is not cst.Try or stmt.orelse or stmt.finalbody or not stmt.handlers:
        return [stmt]
    first = _import_lines(stmt.body)
    if first is None or any(_module_of(s.body[0]).split(".")[0] not in ("", *_FRAMEWORK) for s in first):
        return [stmt]
    names = _imported_names(first)
    for handler in stmt.handlers:
        caught = handler.type.elements if type(handler.type) is cst.Tuple else [cst.Element(handler.type)] if handler.type else []
        alternative = _import_lines(handler.body)
        if not caught or any(dotted(e.value) not in ("ImportError", "ModuleNotFoundError") for e in caught) \
                or alternative is None or _imported_names(alternative) != names:
            return [stmt]
    return first


def _is_import(stmt: cst.CSTNode) -> bool:
    return m.matches(stmt, m.SimpleStatementLine([m.Import() | m.ImportFrom()]))


def global_reads(code: str) -> set[str]:
    """Module-level names the code reads from any scope (Python's own symbol tables; nothing runs)."""
    found: set[str] = set()
    todo = [symtable.symtable(code, "<reduced>", "exec")]
    while todo:
        table = todo.pop()
        top = table.get_type() == "module"
        for sym in table.get_symbols():
            if sym.is_referenced() and (sym.is_global() or (top and not sym.is_imported())):
                found.add(sym.get_name())
        todo.extend(table.get_children())
    return found


def _top_level_names(stmt: cst.CSTNode) -> set[str]:
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        return {stmt.name.value}
    return {n.value for t in find(stmt, cst.AssignTarget) for n in find(t.target, cst.Name)}


def _imported_names(body) -> set[str]:
    out = set()
    for stmt in body:
        if _is_import(stmt) and not isinstance(stmt.body[0].names, cst.ImportStar):
            out |= {_bound(a) for a in stmt.body[0].names}
    return out
