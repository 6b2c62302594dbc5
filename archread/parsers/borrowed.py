"""Definitions a modeling file takes from other models' modeling files, put in the module.

A modular file (`class Olmo2Attention(OlmoAttention)` after `from ..olmo.modeling_olmo import OlmoAttention`),
remote code built on transformers' Llama, and the 4.2x files that reuse RoBERTa's classes read their math
from another file. That file is read, never imported, and each definition the module takes, with what it
needs there in turn, replaces the import, so the reduced module stands alone and loads the same weights.

Where the module defines or imports a name a lender's code needs too, a modular file's wins, as the modular
converter has it (a redefined or imported `apply_rotary_pos_emb` is the one the inherited attention calls);
anywhere else the lender's is kept under its model's suffix, as Python would run it.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from archread.parsers.analysis.names import bound_at_top, names_in
from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import code_of, transform
from archread.parsers.lender_tree import by_model_file, lender_root
from archread.parsers.libcst_patches import parse_module
from archread.parsers.modular import as_converted, prefixes
from archread.parsers.package_lenders import configuration_classes, package_module
from archread.parsers.source import digest, tree_of


def lender_path(imp: cst.ImportFrom, here: Path) -> Path | None:
    """The modeling file `from <module> import …` in the file at `here` reads from, if it is one: relative to
    here, or inside the transformers tree here belongs to (remote code: the release its config.json names)."""
    name = dotted(imp.module) if imp.module else ""
    parts = name.split(".")
    level = len(imp.relative)
    own = package_module(imp, here) if tree_of(here) is None else None  # remote code's own files
    if own is not None:
        return own
    if not parts[-1].startswith("modeling_"):
        return None  # configuration, activations, utilities: the framework, which the prelude stands for
    if level:
        folder = here.parent
        for _ in range(level - 1):
            folder = folder.parent
        candidates = [folder.joinpath(*parts).with_suffix(".py")]
        root = lender_root(here)
        if level == 2 and len(parts) == 2 and root is not None:  # remote code copied from a models/<name>/ file
            candidates.append(root / "models" / parts[0] / f"{parts[1]}.py")
    elif parts[0] == "transformers":
        root = lender_root(here)
        candidates = [root.joinpath(*parts[1:]).with_suffix(".py")] if root is not None else []
    else:
        return None
    # a model's file (models/<name>/) or one beside here; modeling_utils, modeling_outputs … and the auto classes'
    # registry (models/auto/) are the framework
    return next((p for p in candidates if p.is_file() and p.parent.name != "auto"
                 and (p.parent.parent.name == "models" or p.parent == here.parent)), None)


@dataclass
class _Lender:
    path: Path
    body: list
    binds: dict[str, int]  # name -> index of the last top-level statement binding it
    aliases: dict[str, cst.ImportAlias | None]
    package: list[str]  # ["transformers", "models", "llama"]: what its relative imports are relative to
    digest: str
    configurations: set[str] = field(default_factory=set)  # its configuration classes: the framework's, never lent
    stars: list[str] = field(default_factory=list)  # torch modules it star-imports (`from torch.nn.functional import *`)
    known: dict[str, str] = field(default_factory=dict)  # name -> the name it goes by in the module
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.path.stem.removeprefix("modeling_")


_PARSED: dict[tuple[Path, int], tuple[cst.Module | None, str]] = {}  # immutable trees, shared by a run's reductions


def _parsed(path: Path) -> tuple[cst.Module | None, str]:
    key = (path, path.stat().st_mtime_ns)
    if key not in _PARSED:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            _PARSED[key] = parse_module(text), digest(text)
        except (cst.ParserSyntaxError, RecursionError):
            _PARSED[key] = None, digest(text)  # a lender that does not parse lends nothing: its import stays
    return _PARSED[key]


def _lender(path: Path) -> _Lender | None:
    module, text_digest = _parsed(path)
    if module is None:
        return None
    binds, aliases = {}, {}
    for i, stmt in enumerate(module.body):
        for name, alias in bound_at_top(stmt).items():
            binds[name], aliases[name] = i, alias
    root = tree_of(path)
    package = ["transformers", *path.resolve().parent.relative_to(root).parts] if root is not None else []
    stars = [dotted(s.body[0].module) for s in module.body if type(s) is cst.SimpleStatementLine and len(s.body) == 1
             and type(s.body[0]) is cst.ImportFrom and isinstance(s.body[0].names, cst.ImportStar)
             and s.body[0].module is not None and dotted(s.body[0].module).split(".")[0] == "torch"]
    return _Lender(path, list(module.body), binds, aliases, package, text_digest, configuration_classes(module), stars)


@functools.lru_cache(maxsize=16)
def _star_names(module: str) -> frozenset[str]:
    """What `from <torch module> import *` binds (torch is ours to import; the repo's code never runs here)."""
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return frozenset()
    return frozenset(getattr(imported, "__all__", None) or (n for n in dir(imported) if not n.startswith("_")))


class _Borrowing:
    def __init__(self, modular: bool):
        self.own: set[str] = set()  # names the module binds itself
        self.modular = modular
        self.lenders: dict[Path, _Lender | None] = {}
        self.lent: list = []  # borrowed statements, each after those it reads (depth first)
        self.placed: dict[str, str] = {}  # module-level name -> code of its borrowed definition
        self.imports: dict[str, cst.SimpleStatementLine] = {}  # framework names the borrowed code reads
        self.claimed: dict[str, tuple[Path, str]] = {}  # a name the module imports -> (lender, its name there)
        self.prefixes: dict[str, str] = {}  # modular: a lender's class-name prefix -> the module's ("Olmo" -> "Olmo2")

    def swapped(self, name: str) -> str | None:
        """In a modular file, the module's class that takes the role of a lender's (`OlmoMLP` -> `Olmo2MLP` where
        the module defines it): the modular converter renames the lender's references so."""
        for theirs, ours in self.prefixes.items():
            if name.startswith(theirs) and ours + name[len(theirs):] in self.own:
                return ours + name[len(theirs):]
        return None

    def lender(self, path: Path) -> _Lender | None:
        if path not in self.lenders:
            self.lenders[path] = _lender(path)
        return self.lenders[path]

    def take(self, lender: _Lender, name: str) -> str | None:
        """Put lender's definition of name (and what it reads there) in the module: the name it goes by, or
        None where the lender has no such name or it is a configuration class."""
        if name in lender.known:
            return lender.known[name]
        index = lender.binds.get(name)
        if index is None or name in lender.configurations:  # a configuration class: its import stays
            return None
        alias = lender.aliases[name]
        if alias is not None:
            got = lender.known[name] = self._through_import(lender, name, alias)
            return got
        if name in self.own and self.modular:
            lender.known[name] = name  # the module's own stands for it
            return name
        claimed = self.claimed.get(name)
        if self.modular and claimed is not None and claimed[0] != lender.path:  # imported to stand for it (ERNIE's RoPE)
            lender.known[name] = name
            return self.take(self.lenders[claimed[0]], claimed[1]) or name
        stmt = lender.body[index]
        code = code_of(stmt)
        clash = self.claimed.get(name, (lender.path, name)) != (lender.path, name) or self.placed.get(name, code) != code
        if name in self.own or clash:
            lender.renamed[name] = f"{name}_{lender.model}"
        elif name in self.placed:  # the same definition from another lender (`# Copied from`): once is enough
            lender.known[name] = name
            return name
        for bound in bound_at_top(stmt):  # the statement's names, known before its reads are followed (cycles)
            lender.known.setdefault(bound, lender.renamed.get(bound, bound))
        self.placed[lender.known[name]] = code
        for read in sorted(names_in(stmt) - {name}):
            if lender.binds.get(read, index) != index:
                self.take(lender, read)
            elif read not in lender.binds and lender.stars and read not in self.own and read not in self.imports:
                star = next((m for m in lender.stars if read in _star_names(m)), None)  # `pad` of torch's functional
                if star is not None:
                    self.imports[read] = cst.parse_statement(f"from {star} import {read}\n")
        self.lent.append((lender, stmt))
        return lender.known[name]

    def renamed(self, lender: _Lender, stmt):
        """stmt as the module reads it: renamed where its names clash; in a modular file, the roles the module's
        classes take swapped in inside functions (class bases stay: Python must find them defined)."""
        swaps = {}
        if self.modular:
            own = bound_at_top(stmt).keys()
            swaps = {n: self.swapped(n) for n in names_in(stmt) - own if self.swapped(n)}
        return transform(stmt, _Rename(lender.renamed, swaps)) if lender.renamed or swaps else stmt

    def _through_import(self, lender: _Lender, name: str, alias: cst.ImportAlias) -> str:
        stmt = lender.body[lender.binds[name]]
        imp = next((s for s in getattr(stmt, "body", ()) if type(s) is cst.ImportFrom and alias in s.names), None)
        other = lender_path(imp, lender.path) if imp is not None else None
        if other is not None and self.lender(other) is not None:
            got = self.take(self.lenders[other], alias.evaluated_name)
            if got is not None:
                if got != name:
                    lender.renamed[name] = got
                return got
        if name not in self.own and name not in self.imports:
            self.imports[name] = self._framework_import(lender, stmt, alias)
        return name

    def _framework_import(self, lender: _Lender, stmt, alias: cst.ImportAlias):
        """The statement binding one framework name, its relative import made absolute (the module lives elsewhere)."""
        small = next((s for s in getattr(stmt, "body", ()) if type(s) in (cst.Import, cst.ImportFrom) and alias in s.names), None)
        if small is None:  # bound inside an `if`/`try` block: the block comes whole
            return stmt
        small = small.with_changes(names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        if type(small) is cst.ImportFrom and small.relative and lender.package:
            up = len(small.relative) - 1
            base = lender.package[: len(lender.package) - up]
            module = ".".join([*base, dotted(small.module)] if small.module else base)
            small = small.with_changes(relative=[], module=cst.parse_expression(module))
        return cst.SimpleStatementLine(body=[small])


class _Rename(cst.CSTTransformer):
    """A lender's definition under the names it and what it reads go by in the module; `inside` renames
    only within functions. Attribute and keyword names stay."""

    def __init__(self, names: dict[str, str], inside: dict[str, str]):
        super().__init__()
        self.names, self.inside, self.depth = names, inside, 0

    def visit_FunctionDef(self, node):
        self.depth += 1

    def leave_FunctionDef(self, original, updated):
        self.depth -= 1
        return updated.with_changes(name=cst.Name(self.names.get(original.name.value, original.name.value)))

    def leave_ClassDef(self, original, updated):
        return updated.with_changes(name=cst.Name(self.names.get(original.name.value, original.name.value)))

    def leave_Attribute(self, original, updated):
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original, updated):
        return updated.with_changes(keyword=original.keyword)

    def leave_Name(self, original, updated):
        new = (self.depth and self.inside.get(original.value)) or self.names.get(original.value)
        return updated.with_changes(value=new) if new else updated


def _passes_through(fn: cst.FunctionDef, modular: bool) -> bool:
    """`def forward(self, *args, **kwargs): return super().forward(*args, **kwargs)` (a docstring allowed), the
    same in Python as not defining it. In a modular file `super().forward(**super_kwargs)` or `super().forward()`,
    returned or not and with or without `self`, is the converter's "the parent's, as it is"."""
    params = fn.params
    if params.params[1:] or params.kwonly_params or params.posonly_params or (not params.params and not modular):
        return False
    body = [s for s in fn.body.body if not (type(s) is cst.SimpleStatementLine and type(s.body[0]) is cst.Expr
                                               and type(s.body[0].value) in (cst.SimpleString, cst.ConcatenatedString))]
    small = body[0].body[0] if len(body) == 1 and type(body[0]) is cst.SimpleStatementLine else None
    call = small.value if type(small) is cst.Return or (modular and type(small) is cst.Expr) else None
    if type(call) is not cst.Call or type(call.func) is not cst.Attribute or call.func.attr.value != fn.name.value:
        return False
    if not (type(call.func.value) is cst.Call and dotted(call.func.value.func) == "super" and not call.func.value.args):
        return False
    star = params.star_arg.name.value if isinstance(params.star_arg, cst.Param) else None
    stars = params.star_kwarg.name.value if params.star_kwarg is not None else None
    passed = [(a.star, a.value.value if type(a.value) is cst.Name else None) for a in call.args]
    return passed == [(s, n) for s, n in (("*", star), ("**", stars)) if n] or (modular and not passed)


def _inherited(stmt, modular: bool):
    """A class without the methods that only hand their arguments to the parent's."""
    if type(stmt) is not cst.ClassDef or type(stmt.body) is not cst.IndentedBlock:
        return stmt
    body = [s for s in stmt.body.body if not (type(s) is cst.FunctionDef and _passes_through(s, modular))]
    if len(body) == len(stmt.body.body):
        return stmt
    return stmt.with_changes(body=stmt.body.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])]))


def borrow(module: cst.Module, here: Path, read: dict[str, str] | None = None) -> cst.Module:
    """module with the definitions it imports from other modeling files in place of those imports; `read`
    gets each lender's path and digest (a cached reading is stale once one changes)."""
    # relative imports and the tree's packages are read off absolute paths; links are not followed (an HF cache
    # snapshot's files link into blobs/, where no sibling lies)
    here = Path(os.path.abspath(here))
    module = by_model_file(module, here)
    borrowing = _Borrowing(modular=here.stem.startswith("modular_"))
    module = _stars_spelled_out(module, here, borrowing)
    lending = {}  # index of a module statement -> (import, lender)
    for i, stmt in enumerate(module.body):
        imp = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        if type(imp) is cst.ImportFrom and not isinstance(imp.names, cst.ImportStar):
            path = lender_path(imp, here)
            if path is not None and borrowing.lender(path) is not None:
                lending[i] = imp, borrowing.lender(path)
    if not lending:
        return module
    borrowing.own = {name for i, stmt in enumerate(module.body) if i not in lending for name in bound_at_top(stmt)}
    for imp, lender in lending.values():  # what the module imports by name keeps that name
        for alias in imp.names:
            borrowing.claimed.setdefault(alias.evaluated_alias or alias.evaluated_name, (lender.path, alias.evaluated_name))
    body, aliases, first, first_import = [], [], None, None
    for i, stmt in enumerate(module.body):
        if i not in lending:
            body.append(stmt)
            continue
        imp, lender = lending[i]
        first_import = len(body) if first_import is None else first_import
        kept = []
        for alias in imp.names:
            got = borrowing.take(lender, alias.evaluated_name)
            bound = alias.evaluated_alias or alias.evaluated_name
            if got is None:
                kept.append(alias)
                continue
            first = len(body) if first is None else first  # where the first lent definition goes (an import that lent
            # nothing, a configuration class's, places nothing)
            if got != bound:  # `import LlamaMLP as BaseMLP`
                aliases.append(cst.parse_statement(f"{bound} = {got}\n"))
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            body.append(stmt.with_changes(body=[imp.with_changes(names=kept)]))
    first = first_import if first is None else first
    at = next((i for i in range(first, len(body)) if type(body[i]) in (cst.ClassDef, cst.FunctionDef)
               or names_in(body[i]) & borrowing.placed.keys()), len(body))
    if borrowing.modular:
        borrowing.prefixes = prefixes(module, {a.evaluated_alias or a.evaluated_name for imp, _ in lending.values() for a in imp.names})
    lent = [borrowing.renamed(lender, stmt) for lender, stmt in borrowing.lent]
    if read is not None:
        read.update((str(path), lender.digest) for path, lender in borrowing.lenders.items() if lender is not None)
    body = [_inherited(stmt, borrowing.modular) for stmt in body]
    if borrowing.modular:  # the classes as the converter writes them: the first lent base is the parent it unrolls
        lent_classes = {s.name.value: s for s in lent if type(s) is cst.ClassDef}  # (HeliumModel(HeliumPreTrainedModel, LlamaModel))
        body = [as_converted(s, next((lent_classes[b] for b in (dotted(a.value) for a in s.bases) if b in lent_classes), None))
                if type(s) is cst.ClassDef else s for s in body]
    outside = [_read_when_defined(stmt) - lender.binds.keys() for lender, stmt in borrowing.lent]  # a star import's
    early, later = _after_own(list(zip(lent, outside)), body, at)
    placed = [*body[:at], *borrowing.imports.values(), *early, *aliases]
    for i in range(at, len(body)):
        placed += [body[i], *later.get(i, [])]
    return module.with_changes(body=placed)


def _stars_spelled_out(module: cst.Module, here: Path, borrowing: _Borrowing) -> cst.Module:
    """`from transformers.models.llama.modeling_llama import *` as the import of the names the module reads
    and that file binds (research code built on Llama's classes): each can then be lent like a named one."""
    body, read = list(module.body), None
    for i, stmt in enumerate(body):
        imp = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        if type(imp) is not cst.ImportFrom or not isinstance(imp.names, cst.ImportStar):
            continue
        path = lender_path(imp, here)
        lender = borrowing.lender(path) if path is not None else None
        if lender is None:
            continue
        if read is None:
            own = {n for s in body if s is not stmt for n in bound_at_top(s)}
            read = sorted(names_in(module) - own)
        names = [n for n in read if n in lender.binds and not n.startswith("_")]
        if names:
            line = cst.parse_statement(f"from {dotted(imp.module) if imp.module else ''} import {', '.join(names)}\n")
            body[i] = stmt.with_changes(body=[line.body[0].with_changes(relative=imp.relative)])
    return module.with_changes(body=body)


def _read_when_defined(stmt) -> frozenset[str]:
    """The names a module-level statement reads as it runs: a class's bases, decorators and own statements, a
    function's decorators and defaults; not what a function body reads when called."""
    if type(stmt) is cst.FunctionDef:
        return names_in(stmt.with_changes(body=cst.IndentedBlock([])))
    if type(stmt) is cst.ClassDef:
        inner = [_read_when_defined(s) if type(s) is cst.FunctionDef else names_in(s) for s in stmt.body.body]
        return frozenset().union(names_in(stmt.with_changes(body=cst.IndentedBlock([]))), *inner)
    return names_in(stmt)


def _after_own(lent: list, body: list, at: int) -> tuple[list, dict[int, list]]:
    """(the lent statements that go at `at`, body index -> those that go right after that statement of the module),
    for (statement, the names it reads as it runs that its lender does not bind): a lent definition built on one of
    the module's own (a sibling's `class Fast(ModelAttention)` that star-imports the modeling file back) goes after
    the module's definition of it, and what is lent on top of it after that."""
    bound_at = {}  # a name's first binding: one bound before `at` is there already
    for i, stmt in enumerate(body):
        for name in bound_at_top(stmt):
            bound_at.setdefault(name, i)
    where, early, later = {}, [], {}
    for stmt, outside in lent:
        own = [bound_at[n] for n in outside if bound_at.get(n, -1) >= at]
        after = own + [where[n] for n in _read_when_defined(stmt) if where.get(n) is not None]
        index = max(after, default=None)
        for name in bound_at_top(stmt):
            where[name] = index
        (early if index is None else later.setdefault(index, [])).append(stmt)
    return early, later
