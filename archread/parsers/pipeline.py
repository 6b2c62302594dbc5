"""The reduction: parse, run the strip passes over one shared context, generate the reduced module.

The passes run as one chained traversal: each node is handed to every pass in order once its
children are done, so a condition knocked out by one pass is folded by `simplify` in the same
walk, and the module-level passes (dead code, imports, layout) see the finished tree. A pass that
will remove a node whatever is inside it (a framework class) says so on the way in, by returning
False from its visit hook, and nobody walks the inside.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import time
import warnings

import libcst as cst

from archread.errors import ArchreadError
from archread.parsers.analysis.classes import roots
from archread.parsers.analysis.layout import WIDTH
from archread.parsers.borrowed import borrow
from archread.parsers.config_defaults import checkpoint_only_values, default_values
from archread.parsers.context import PassContext
from archread.parsers.fastcst import code_of, is_node, remembering, transform
from archread.parsers.lender_tree import other_release_read
from archread.parsers.libcst_patches import parse_module, speedups
from archread.parsers.package_lenders import relative_siblings
from archread.parsers.passes import PASSES, Simplify
from archread.parsers.passes.base import StripPass
from archread.parsers.passes.config_values import ConfigValues
from archread.parsers.reduction import Reduction
from archread.parsers.remote import code_root
from archread.parsers.runnable_defaults import runnable_values
from archread.parsers.source import Source, digest


def nonblank(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


class Chain(cst.CSTTransformer):
    """Several transformers in one walk: visits in order, leaves in order, each on the previous result."""

    def __init__(self, passes: list[StripPass]):
        super().__init__()
        self.passes = passes
        self._table: dict[str, dict[type, list]] = {"visit": {}, "leave": {}}  # prefix -> node type -> hooks

    def _hooks(self, prefix: str, kind: type) -> list:
        """(index, bound method) of the passes that override prefix_Kind; the no-op defaults are skipped."""
        name = f"{prefix}_{kind.__name__}"
        default = getattr(cst.CSTTransformer, name, None)
        hooks = self._table[prefix][kind] = [
            (i, getattr(p, name)) for i, p in enumerate(self.passes) if getattr(type(p), name, default) is not default
        ]
        return hooks

    def has_hooks(self, kind: type) -> bool:
        """Whether any pass hooks this node type (fastcst skips leaves nobody reads)."""
        table = self._table
        visits, leaves = table["visit"].get(kind), table["leave"].get(kind)
        return bool(self._hooks("visit", kind) if visits is None else visits) or bool(
            self._hooks("leave", kind) if leaves is None else leaves)

    def on_visit(self, node):
        kind = type(node)
        hooks = self._table["visit"].get(kind)
        inside = True
        for _, hook in self._hooks("visit", kind) if hooks is None else hooks:
            if hook(node) is False:
                inside = False
        return inside

    # no pass hooks a single field (`visit_Call_func`): where libcst itself walks a node (fastcst's fallback), its
    # per-field lookups by formatted name are skipped
    def on_visit_attribute(self, node, attribute):
        pass

    def on_leave_attribute(self, original, attribute):
        pass

    def on_leave(self, original, updated):
        start, table = 0, self._table["leave"]
        while True:
            kind = type(updated)
            hooks = table.get(kind)
            for index, hook in self._hooks("leave", kind) if hooks is None else hooks:
                if index < start:
                    continue
                updated = hook(original, updated)
                if not is_node(type(updated)):  # removed or flattened
                    return updated
                if type(updated) is not kind:  # the node became another kind: later passes see it as that
                    start = index + 1
                    break
            else:
                return updated


def root_of(source: Source, module: cst.Module | None = None) -> str | None:
    """The model class a reduction keeps: the repo's, else — for a file of no transformers release whose class
    names leave several roots (LLaDA's `LLaDAModelLM` beside its blocks) — the one its code serves as the LM."""
    if source.remote is not None:
        return source.remote.root
    named = roots(module) if module is not None and source.release is None else []
    if not named:
        return None
    try:
        tree = ast.parse(source.text)
        root = code_root(tree, source.path)
    except (ArchreadError, SyntaxError):
        return None
    # one root by name is kept unless it subclasses the code's root (a 4-bit variant of the LM adds no math)
    return root if len(named) > 1 or root in _ancestors(tree, named[0]) else None


def _ancestors(tree: ast.Module, name: str) -> set[str]:
    bases = {n.name: {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in n.bases}
             for n in tree.body if isinstance(n, ast.ClassDef)}
    found, todo = set(), [name]
    while todo:
        for base in bases.get(todo.pop(), set()) - found:
            found.add(base)
            todo.append(base)
    return found


def parse(source: Source, lenders: dict[str, str] | None = None) -> cst.Module:
    try:
        module = parse_module(source.text)
    except cst.ParserSyntaxError as exc:
        try:  # Python's own parser places the error best; it only builds a tree, nothing runs
            ast.parse(source.text, str(source.path))
        except SyntaxError as err:
            raise ArchreadError(f"{source.path}:{err.lineno}:{err.offset}: syntax error: {err.msg}") from None
        raise ArchreadError(f"{source.path}:{exc.raw_line}:{exc.raw_column + 1}: syntax error") from None
    except RecursionError:
        raise ArchreadError(f"{source.path}: nested too deeply to parse") from None
    module = borrow(relative_siblings(module, source.path), source.path, lenders)
    if not roots(module, root_of(source)):
        raise ArchreadError(f"{source.path}: no nn.Module model here (no class defines forward)")
    return module


def _passes(config: dict) -> list[type[StripPass]]:
    """The strip passes; the branches the configuration decides fold before the generic folding."""
    if not config:
        return PASSES
    at = PASSES.index(Simplify)
    return [*PASSES[:at], ConfigValues, *PASSES[at:]]


def assumptions(assumed: dict) -> str:
    """The comment that opens a reading folded for some configuration values: which, so the reader knows what
    another checkpoint may change (`reduce --config` reads it for that one)."""
    words = [f"{k}={v!r}" for k, v in assumed.items()]
    lines, line = [], "# assumes"
    for i, word in enumerate(words):
        word += "," if i < len(words) - 1 else ""
        if len(line) + 1 + len(word) > WIDTH and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    return "\n".join([*lines, line]) + "\n" if words else ""


@contextlib.contextmanager
def _no_cycle_collection():
    """A reduction builds and frees tens of thousands of nodes, which reference counting reclaims (trees hold
    no cycles): the cycle collector would only rescan them, and a full pass cost a sixth of a reduction.
    Paused, not lost: the few cycles (a transform's self-calling closure) it finds after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def reduce_source(source: Source, config: dict | None = None) -> Reduction:
    with _no_cycle_collection(), remembering(), speedups():
        return _reduce(source, config)


def _reduce(source: Source, config: dict | None) -> Reduction:
    """The reduced module, its branches folded for `config` (attribute -> value of a checkpoint's configuration),
    else for the defaults its configuration file declares: the model as a default configuration builds it. The
    fields a fold read open the module (`# assumes rope_scaling=None`) and travel in `Reduction.assumed`."""
    start = time.perf_counter()
    lenders: dict[str, str] = {}
    module = parse(source, lenders)
    defaults = config is None
    repaired, notes, own = {}, {}, {}
    if defaults:
        config, path = default_values(source.path)
        if path is not None:
            lenders[str(path)] = digest(path.read_text(encoding="utf-8", errors="replace"))
        repaired, notes = runnable_values(source.path, config)  # defaults that leave no LM the code can run
        own = checkpoint_only_values(source.path)  # fields only the repo's config.json holds
        config_defaults, config = config, {**own, **config, **repaired}
    ctx = PassContext(folder=source.path.parent, config=config, defaults=defaults, root=root_of(source, module))
    for note in notes.values():
        ctx.warn(note)
    elsewhere = other_release_read(source.path, lenders)
    if elsewhere is not None:
        ctx.warn(elsewhere)
    with warnings.catch_warnings():  # Python's hints on the reduced text (`None[0]`: "missed a comma?") are not the reader's
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            reduced = transform(module, Chain([cls(ctx) for cls in _passes(config)]))
        except Exception as exc:  # a pass bug on an unforeseen file: one line naming it, not a traceback
            raise ArchreadError(f"{source.path}: archread could not reduce this file ({type(exc).__name__}: {exc})".splitlines()[0]) from None
        defined = {"", *(s.name.value for s in reduced.body if type(s) in (cst.ClassDef, cst.FunctionDef))}
        assumed = {k: value for k, (value, owners) in sorted(ctx.assumed.items()) if owners & defined}  # not dead code's
        assumed.update({k: v for k, v in ctx.torch_path.items() if k in assumed})  # a flag read where the kernels' branch went
        if any(k in own for k in assumed):
            ctx.warn("read from the repo's config.json, which alone sets them (the configuration class has no "
                     "default): " + ", ".join(f"{k}={assumed[k]!r}" for k in assumed if k in own))
        code = assumptions(assumed) + code_of(reduced)
        try:
            compile(code, str(source.path), "exec", dont_inherit=True)
        except SyntaxError as exc:  # a pass bug, not the user's: say where
            raise ArchreadError(f"{source.path}: reduction produced invalid Python at line {exc.lineno}: {exc.msg}") from None
    original = nonblank(source.text)
    reduced_lines = nonblank(code)
    removed = dict(ctx.removed)
    removed["format"] = max(0, original - reduced_lines - sum(v for k, v in removed.items() if k != "format"))
    return Reduction(
        source=source, code=code, original_lines=original, reduced_lines=reduced_lines, removed=removed,
        warnings=ctx.warnings, seconds=time.perf_counter() - start, roots=roots(reduced, ctx.root), lenders=lenders,
        assumed=assumed, file_lines=len(source.text.splitlines()),
        autocast_off=[name for name in ctx.autocast_off if name.split(".")[0] in defined],
        torch_path=dict(ctx.torch_path), read_with=list(notes.values()),
        repaired={k: [config_defaults[k], v, notes[k]] for k, v in repaired.items()},
    )
