"""Dead code: what the causal LM no longer reaches once the other passes have run.

Top-level classes and functions unreachable from the *ForCausalLM / *LMHeadModel classes,
methods no one calls, `self.x = plain value` attributes no one reads, and local
assignments no one reads (the last two only when the value builds no module).
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.classes import Family, roots, torch_families
from archread.parsers.analysis.folding import Fold
from archread.parsers.analysis.locals import builders_free, calls_only, drop_unread_locals, flag_literals, plain
from archread.parsers.analysis.module_flags import module_flags
from archread.parsers.analysis.module_imports import STANDARD_IMPORTS
from archread.parsers.analysis.names import bound_at_top, bound_names, names_in
from archread.parsers.analysis.nodes import find, is_config, is_self_attr, only_small
from archread.parsers.analysis.rewrite import ReplaceReads, StatementTransformer
from archread.parsers.analysis.unbound import fold_unbound_branches
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass


def _defines(stmt: cst.CSTNode) -> set[str]:
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        return {stmt.name.value}
    if type(only_small(stmt)) in (cst.Assign, cst.AnnAssign):
        small = stmt.body[0]
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
        return {n.value for t in targets for n in find(t, cst.Name)}
    if type(stmt) in _SCRIPT_BLOCKS:  # what the block binds, so that it stays only where the model reads that
        return {*bound_at_top(stmt), *bound_names(stmt), _SCRIPT}
    if type(stmt) is cst.Try:  # an optional kernel's import and its fallback: what that reads stays with it
        return set(bound_at_top(stmt))
    return set()


# module-level blocks that are script code unless the model reads what they bind (a test run pasted under the
# model's definitions: `if 1: c = AutoConfig.from_pretrained(...); m = Model(c); m.generate(...)`)
_SCRIPT_BLOCKS = (cst.If, cst.For, cst.While, cst.With)
_SCRIPT = "<script>"  # stands for a block's side effects, which no definition reads


def _attr_uses(node: cst.CSTNode) -> Counter:
    """Attribute names read anywhere (through any object but a config, whose fields share the names)."""
    return Counter(a.attr.value for a in walk(node) if type(a) is cst.Attribute and not is_config(a.value))


def _reads(node: cst.CSTNode) -> tuple[Counter, Counter]:
    """`_attr_uses`, and the attribute names read through a config (`config.x`, `self.config.x`): one walk."""
    other, config = Counter(), Counter()
    for a in walk(node):
        if type(a) is cst.Attribute:
            (config if is_config(a.value) else other)[a.attr.value] += 1
    return other, config



class DeadCode(StripPass):
    NAME = "dead_code"
    DESCRIPTION = "Unreachable classes/functions, uncalled methods, unread attributes and locals."
    STRIP = [(
        "def unused():\n    return 1\nclass AForCausalLM(nn.Module):\n    def helper(self):\n        return 2\n"
        "    def forward(self, x):\n        y = x * 2\n        return x\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a test run pasted under the model: script code nothing of the model reads
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return x\n"
        "if 1:\n    import os\n    os.environ['HF_ENDPOINT'] = 'mirror'\n    m = AForCausalLM()\n    m.generate([1, 2])\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a flag stored once (a knock-out folded `config._attn_implementation == "sdpa"`)
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self._use_sdpa = False\n    def forward(self, x):\n        if self._use_sdpa:\n            return x * 2\n"
        "        return x\n",
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n\n"
        "    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a loop counter nothing reads (4.3x Llama's `for idx, decoder_layer in enumerate(self.layers)`)
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        for i, layer in enumerate(self.layers):\n"
        "            x = layer(x)\n        return x\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        for layer in self.layers:\n"
        "            x = layer(x)\n        return x\n",
    )]
    STRIP += [(  # a module-level flag nothing rebinds (what a folded `if is_npu_available():` left)
        "FUSED = False\nclass AForCausalLM(nn.Module):\n    def forward(self, x):\n        if FUSED:\n"
        "            return npu.fused(x)\n        return x * 2\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return x * 2\n",
    )]
    STRIP += [(  # a branch reading a local whose only binding a fold took (the cache's): it could only raise
        "class AForCausalLM(nn.Module):\n    def forward(self, x, dual=False):\n        if False:\n            idx = 2\n"
        "        if dual:\n            return x * idx\n        return x\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, x, dual=False):\n        return x\n",  # signatures drop it later
    )]
    STRIP += [(  # an unread store of what a helper that builds nothing returns (InternVL's chat template)
        "TEMPLATES = {}\ndef template(name):\n    return TEMPLATES[name].copy()\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.conv = template(config.template)\n        self.system = self.conv.system\n"
        "    def forward(self, x):\n        return x\n",
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n\n"
        "    def forward(self, x):\n        return x\n",
    )]
    KEEP = [
        # a counter's first store, with `+=` and one read elsewhere (ModuleFormer's gate statistics)
        "class Gate(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.count = 0\n"
        "    def forward(self, x):\n        self.count += 1\n        return x / self.count\n",
        "def sequential_gemm(x, w):\n    return x @ w\n"  # the torch function an optional kernel's fallback binds
        "try:\n    from grouped_gemm.ops import gmm as experts_gemm\nexcept ImportError:\n    experts_gemm = sequential_gemm\n"
        "class AForCausalLM(nn.Module):\n    def forward(self, x, w):\n        return experts_gemm(x, w)\n","class AForCausalLM(nn.Module):\n    def forward(self, x):\n        y = x * 2\n        return y * y\n",
            "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"  # read through
            "        self.mult = config.mult\n\n\nclass AForCausalLM(nn.Module):\n    def __init__(self, config):\n"  # another
            "        super().__init__()\n        self.model = AModel(config)\n\n    def forward(self, x):\n"
            "        return x * self.model.mult\n",
            "def build(config):\n    return nn.Linear(config.a, config.b)\nclass AForCausalLM(nn.Module):\n"  # builds a module
            "    def __init__(self, config):\n        super().__init__()\n        self.proj = build(config)\n"
            "    def forward(self, x):\n        return x\n",
            "FUSED = False\nclass AForCausalLM(nn.Module):\n    def forward(self, x):\n        global FUSED\n"  # set again
            "        if FUSED:\n            return x\n        FUSED = True\n        return x * 2\n",
            "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        for i, layer in enumerate(self.layers):\n"
            "            x = layer(x, i)\n        return x\n",  # the counter is read
            "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"  # set again
            "        self.cached = False\n    def forward(self, x):\n        if not self.cached:\n            self.cached = True\n"
            "        return x\n",
            "import torch\nif hasattr(torch, 'compiler'):\n    norm = torch.rms_norm\nelse:\n    norm = None\n"  # the model reads it
            "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return norm(x)\n",
            "class AForCausalLM(nn.Module):\n    def forward(self, x, fast=False):\n"  # no local: an import forgotten
            "        if fast:\n            return kernel(x)\n        return x\n",
            "class AForCausalLM(nn.Module):\n    def forward(self, x, exact=False):\n        if exact:\n"  # an import's module
            "            from scipy.optimize import solve\n            return solve(x)\n        return x\n"]

    def leave_Module(self, original, updated):
        # branches that read a local a fold left unbound go first: what only they read is unreachable now
        # the standard imports count bound: the imports pass puts them back in the end
        updated = fold_unbound_branches(self._read_flags(updated), self.removed, original, set(STANDARD_IMPORTS))
        module = self._reachable(updated)
        for _ in range(3):  # what only a removed method or store read (`self.max_seq_len_cached`) is unread now
            sweep = _Members(self)
            module = transform(module, sweep)
            if not sweep.removed:
                break
        return self._reachable(module)  # uncalled methods can leave helpers unreachable

    def _read_flags(self, module: cst.Module) -> cst.Module:
        """A module-level flag nothing rebinds (`NPU_ATTN_INFR = False`) is its literal where read, so the branches
        it guards fold as a knock-out's do; its store goes."""
        flags = module_flags(module)
        if not flags:
            return module
        for i in flags:
            self.ctx.remove(self.NAME, module.body[i])
        module = module.with_changes(body=[s for i, s in enumerate(module.body) if i not in flags])
        make = {name: partial(self._literal, value) for name, value in flags.values()}
        return transform(transform(module, ReplaceReads(make)), Fold(self.ctx))

    def _literal(self, value: str) -> cst.Name:
        return self.ctx.mark(cst.Name(value), self.NAME)

    def _reachable(self, module: cst.Module) -> cst.Module:
        defined = {name: i for i, stmt in enumerate(module.body) for name in _defines(stmt)}
        keep, todo = set(), list(roots(module, self.ctx.root))
        while todo:
            name = todo.pop()
            index = defined.get(name)
            if index is None or index in keep:
                continue
            keep.add(index)
            todo.extend(names_in(module.body[index]))
        body = []
        for i, stmt in enumerate(module.body):
            if i in keep or (not _defines(stmt) and type(only_small(stmt)) is not cst.Expr):
                body.append(stmt)
            else:
                self.ctx.remove(self.NAME, stmt)
        return module.with_changes(body=body)


class _Members(StatementTransformer):  # methods, `self.x = ...` lines and locals: all statements
    """One sweep over classes and functions: uncalled methods, unread attributes, unread locals."""

    def __init__(self, owner: DeadCode):
        super().__init__()
        self.owner = owner
        self.uses: Counter = Counter()
        self.other: Counter = Counter()  # attribute reads through anything but `self` or a config
        self.own: Counter = Counter()  # (family, attr) -> `self.attr` nodes, stores included
        self.stores: Counter = Counter()  # (family, attr) -> `self.attr = ...` statements
        self.leaky: set[str] = set()  # families that hand `self` to a call: any attribute may be read
        self.constants: dict[tuple[str, str], str] = {}  # (family, attr) -> "True"/"False": its one store
        self.family: Family | None = None
        self.plain: set[str] = set()  # families a config may be an instance of
        self.config_uses: Counter = Counter()
        self.current: list[str] = []
        self.removed = 0  # methods and attribute stores
        self.free: set[str] = set()  # module-level functions that build no module (a chat template's lookup)

    def visit_Module(self, node: cst.Module) -> None:
        self.uses, self.config_uses = _reads(node)
        self.free = builders_free(node)
        classes = {s.name.value: s for s in node.body if isinstance(s, cst.ClassDef)}
        functions = {s.name.value for s in node.body if isinstance(s, cst.FunctionDef)}
        self.family = Family(classes)
        # what `config` may be an instance of (LLaDA's `ModelConfig`): a config read reaches its methods
        self.plain = {self.family.find(name) for name in classes} - torch_families(classes, self.family)
        own, flags, annotated = set(), {}, set()
        for name, cls in classes.items():
            root = self.family.find(name)
            for n in walk(cls):  # exact types: libcst's node classes are ABCs, and their isinstance is slow
                kind = type(n)
                if is_self_attr(n):
                    self.own[(root, n.attr.value)] += 1
                    own.add(id(n))
                elif kind is cst.AssignTarget and is_self_attr(n.target):
                    self.stores[(root, n.target.attr.value)] += 1
                elif kind is cst.AugAssign and is_self_attr(n.target):
                    self.stores[(root, n.target.attr.value)] += 1  # written, and read: its one occurrence counts twice
                    self.own[(root, n.target.attr.value)] += 1
                elif kind is cst.Assign and len(n.targets) == 1 and is_self_attr(n.targets[0].target):
                    if type(n.value) is cst.Name and n.value.value in ("True", "False"):
                        flags[(root, n.targets[0].target.attr.value)] = n.value.value
                elif kind is cst.AnnAssign and is_self_attr(n.target):
                    annotated.add((root, n.target.attr.value))  # a store the counts above do not see: no flag
                elif kind is cst.Call and not (type(n.func) is cst.Name and n.func.value in functions):
                    if any(type(a.value) is cst.Name and a.value.value == "self" for a in n.args):
                        self.leaky.add(root)  # local functions' reads are in `other`
        self.other = Counter(
            a.attr.value for a in walk(node) if type(a) is cst.Attribute and id(a) not in own and not is_config(a.value)
        )
        # `self.x = y.x` stored and read nowhere (InternVL's `self.system_message = self.conv_template.system_message`):
        # its read of x is the one a sweep takes away with it, when that is x's only read anywhere
        copies = Counter((self.family.find(name), n.value.attr.value) for name, cls in classes.items() for n in walk(cls)
                         if type(n) is cst.Assign and len(n.targets) == 1 and is_self_attr(n.targets[0].target)
                         and type(n.value) is cst.Attribute and n.value.attr.value == n.targets[0].target.attr.value
                         and not is_config(n.value.value))  # a configuration's read is counted nowhere
        for (root, attr), count in copies.items():
            if self.other[attr] == count == self.stores[(root, attr)] == self.own[(root, attr)] and root not in self.leaky:
                self.other[attr] = 0
        # `self._use_flash_attention_2 = False` (a knock-out's fold), stored once and touched nowhere else: its
        # reads become the literal, so the branches it guards fold and the store is left unread
        for (root, attr), value in flags.items():
            alone = self.stores[(root, attr)] == 1 and not self.other[attr] and (root, attr) not in annotated
            if alone and root not in self.leaky:
                self.constants[(root, attr)] = value
                self.own[(root, attr)] = 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.current.append(self.family.find(node.name.value) if self.family and node.name.value in self.family.parent else "")

    def _unread(self, attr: str) -> bool:
        """Stored on self in this family, read nowhere (an attribute of a class handing `self` out may be)."""
        root = self.current[-1] if self.current else ""
        if not root or root in self.leaky:
            return self.uses[attr] == sum(v for (r, a), v in self.stores.items() if a == attr)
        return self.other[attr] == 0 and self.own[(root, attr)] == self.stores[(root, attr)]

    def leave_ClassDef(self, original, updated):
        root = self.current.pop()
        body = []
        for stmt in updated.body.body:
            if isinstance(stmt, cst.FunctionDef) and not _dunder(stmt.name.value) and stmt.name.value != "forward":
                uses = self.uses[stmt.name.value] + (self.config_uses[stmt.name.value] if root in self.plain else 0)
                if uses == 1:  # the one use may be its own: `return super().prepare_inputs_for_generation(...)`
                    uses -= _attr_uses(stmt.body)[stmt.name.value]
                if uses == 0:
                    self.owner.ctx.remove(self.owner.NAME, stmt)
                    self.removed += 1
                    continue
            body.append(stmt)
        return updated.with_changes(body=updated.body.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])]))

    def leave_SimpleStatementLine(self, original, updated):
        kept = [s for s in updated.body if not self._unread_store(s)]
        if len(kept) == len(updated.body):
            return updated
        self.removed += 1
        return updated.with_changes(body=kept) if kept else self.owner.removed(original)

    def _unread_store(self, stmt: cst.BaseSmallStatement) -> bool:
        if type(stmt) is cst.Assign and len(stmt.targets) == 1 and is_self_attr(stmt.targets[0].target):
            attr = stmt.targets[0].target.attr.value
            return self._unread(attr) and (plain(stmt.value) or calls_only(stmt.value, self.free)
                                           or m.matches(stmt.value, _SCRATCH_BUFFER))
        return False

    def leave_FunctionDef(self, original, updated):
        if updated.name.value == "__init__" and self.current:
            updated = self._inline_aliases(updated)
        root = self.current[-1] if self.current else ""
        flags = {attr: value for (r, attr), value in self.constants.items() if r == root}
        if flags and any(is_self_attr(n) and n.attr.value in flags for n in walk(updated.body)):
            updated = transform(transform(updated, _ReadFlags(flags)), Fold(flag_literals(self.owner.ctx, self.owner.NAME)))
        return drop_unread_locals(updated, self.owner.ctx, self.owner.NAME)

    def _inline_aliases(self, fn: cst.FunctionDef) -> cst.FunctionDef:
        """`self.hidden_size = config.hidden_size` read only in this __init__: the reads become the value."""
        root = self.current[-1]
        if not root or root in self.leaky:
            return fn
        here = Counter(n.attr.value for n in walk(fn.body) if is_self_attr(n))  # the stores count too
        assigned = {n.target.value for n in find(fn.body, cst.AssignTarget) if isinstance(n.target, cst.Name)}
        aliases, body = {}, []
        for stmt in fn.body.body:
            small = only_small(stmt)
            if type(small) is cst.Assign and len(small.targets) == 1 and is_self_attr(small.targets[0].target):
                attr, value = stmt.body[0].targets[0].target.attr.value, stmt.body[0].value
                if (
                    _alias_value(value) and not names_in(value) & assigned and not self.other[attr]
                    and self.stores[(root, attr)] == 1 and self.own[(root, attr)] == here[attr] > 1
                ):
                    aliases[attr] = value
                    self.own[(root, attr)] = 0
                    continue
            body.append(stmt)
        if not aliases:
            return fn
        return transform(fn.with_changes(body=fn.body.with_changes(body=body)), _Substitute(aliases))


_SCRATCH_BUFFER = m.Call(  # a buffer outside the state dict: only its readers need it
    func=m.Attribute(attr=m.Name("Buffer")), args=[m.ZeroOrMore(), m.Arg(keyword=m.Name("persistent"), value=m.Name("False")), m.ZeroOrMore()]
)


def _alias_value(value: cst.CSTNode) -> bool:
    """A name, a literal or `config.x`: nothing that costs or changes when repeated."""
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    while isinstance(value, cst.Attribute):
        value = value.value
    return isinstance(value, cst.Name) and value.value != "self"




class _ReadFlags(cst.CSTTransformer):
    """Reads of `self.flag` become the flag's literal; stores stay (dead code drops them once unread)."""

    def __init__(self, flags: dict[str, str]):
        super().__init__()
        self.flags = flags

    def visit_AssignTarget(self, node) -> bool:
        return False

    def leave_Attribute(self, original, updated):
        if is_self_attr(updated) and updated.attr.value in self.flags:
            return cst.Name(self.flags[updated.attr.value])
        return updated


class _Substitute(cst.CSTTransformer):
    def __init__(self, aliases: dict[str, cst.BaseExpression]):
        super().__init__()
        self.aliases = aliases

    def leave_Attribute(self, original, updated):
        if is_self_attr(updated) and updated.attr.value in self.aliases:
            return self.aliases[updated.attr.value].deep_clone()
        return updated


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


