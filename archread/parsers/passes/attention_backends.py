"""Attention backends: FlashAttention2, SDPA and flex paths go; the eager path is the math."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.names import bound_at_top
from archread.parsers.analysis.nodes import dotted, find, sole_target
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

_BACKEND_WORDS = ("Flash", "Sdpa", "SDPA", "Flex")
_REGISTRY = "ALL_ATTENTION_FUNCTIONS"
# probes of an optional fast kernel (transformers.utils' is_flash_attn_2_available()): False wherever called, even
# as a value (`flash_attn_available = is_flash_attn_2_available()`), since the reduced model runs the torch path
_PROBES = ("is_flash_attn", "is_torch_flex_attn", "is_torch_sdpa")


def _backend_of(name: str) -> str | None:
    """The class a backend class's name varies (`LlamaFlashAttention2` -> `LlamaAttention`); None without a
    backend word before `Attention` (`FlexOlmoAttention` is FlexOlmo's). Callers check the class subclasses
    the class its name says."""
    for word in _BACKEND_WORDS:
        if word + "Attention" in name:
            return name.replace(word, "", 1).rstrip("0123456789")
    return None


def _string_keys(d: cst.Dict) -> dict[str, cst.BaseExpression]:
    out = {}
    for el in d.elements:
        if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
            out[el.key.evaluated_value] = el.value
    return out


class AttentionBackends(Knockout):
    NAME = "attention_backends"
    DESCRIPTION = "Flash/SDPA/flex subclasses, *_ATTENTION_CLASSES tables, ALL_ATTENTION_FUNCTIONS dispatch."
    ATTRS = {"_attn_implementation": "eager", "_flash_attn_uses_top_left_mask": False, "_flash_attn_2_enabled": False}
    CALLS = ("is_flash_attn", "is_torch_flex_attn", "is_torch_sdpa", "is_torch_greater_or_equal", "is_torchdynamo")
    STRIP = [(
        "def forward(self, q, k, v):\n    attention_interface = eager_attention_forward\n"
        "    if self.config._attn_implementation != 'eager':\n"
        "        attention_interface = ALL_ATTENTION_FUNCTIONS[self.config._attn_implementation]\n"
        "    return attention_interface(self, q, k, v)\n",
        "def forward(self, q, k, v):\n    return eager_attention_forward(self, q, k, v)\n",
    )]
    STRIP += [(  # built directly, not through a table: its eager parent is built instead
        "class AAttention(nn.Module):\n    def forward(self, x, mask=None):\n        return x\n"
        "class AFlashAttention2(AAttention):\n    def forward(self, x, mask=None):\n        return flash(x)\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        self.attn = AFlashAttention2(config)\n",
        "class AAttention(nn.Module):\n    def forward(self, x, mask=None):\n        return x\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        self.attn = AAttention(config)\n",
    ), (  # 4.35's flag, read through getattr
        "def make(config):\n    return A(config) if not getattr(config, '_flash_attn_2_enabled', False) else B(config)\n",
        "def make(config):\n    return A(config)\n",
    ), (  # a probe's result kept in a local decides the branches
        "def f(x):\n    fast = is_flash_attn_2_available()\n    if fast:\n        return flash(x)\n    return x\n",
        "def f(x):\n    return x\n",
    )]
    KEEP = ["def forward(self, q, k, v):\n    return attend(q, k, v)\n"]
    KEEP += [  # built directly and taking what its parent does not (a cache layout of its own): it stays
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return x\n\n\n"
        "class ASdpaAttention(AAttention):\n    def forward(self, x, dual_cache=False):\n        return sdpa(x)\n\n\n"
        "class ALayer(nn.Module):\n    def __init__(self, config):\n        self.attn = ASdpaAttention(config)\n"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.tables: dict[str, cst.BaseExpression] = {}  # NAME_ATTENTION_CLASSES -> its "eager" entry
        self.functions: set[str] = set()
        self.alias: list[dict[str, cst.BaseExpression]] = []
        self.backends: set[str] = set()
        self.parents: dict[str, str] = {}  # a backend built directly (not through a table) -> its eager parent
        self.kept: set[str] = set()  # a backend built directly that its parent cannot stand in for
        self.probed: list[set[str]] = []  # per function: locals only ever bound to a probe's result

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.functions = {s.name.value for s in node.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
        local = {s.name.value for s in node.body if isinstance(s, cst.ClassDef)}
        self.backends = {  # a backend named after the local class it subclasses (LlamaFlashAttention2(LlamaAttention))
            s.name.value for s in node.body if isinstance(s, cst.ClassDef) and _backend_of(s.name.value) in local
            and _backend_of(s.name.value) in {dotted(b.value) for b in s.bases}}
        tables = []
        for stmt in node.body:
            if m.matches(stmt, m.SimpleStatementLine([m.Assign(targets=[m.AssignTarget(m.Name())], value=m.Dict())])):
                assign = stmt.body[0]
                entries = _string_keys(assign.value)
                if "eager" in entries:
                    self.tables[assign.targets[0].target.value] = entries["eager"]
                    tables.append(stmt)
        self._direct(node, tables)
        self.ctx.absent_kernels.update(  # `if is_flash_attn_2_available(): from flash_attn import flash_attn_func`
            name for stmt in node.body if type(stmt) is cst.If and _probes(stmt.test)
            for inner in stmt.body.body for name in bound_at_top(inner))

    def _direct(self, module: cst.Module, tables: list[cst.CSTNode]) -> None:
        """Backends the code builds by name rather than through a table (Dream's layer builds DreamSdpaAttention,
        MiniMax-M1 picks its FlashAttention2 by layer kind): where the backend takes nothing its eager parent does
        not, the parent is built there instead; otherwise the backend stays, or the name would be left undefined."""
        classes = {s.name.value: s for s in module.body if type(s) is cst.ClassDef}
        backends = {name: base for name, cls in classes.items() if (base := _backend_parent(cls, classes))}
        skip = {id(n) for stmt in tables for n in walk(stmt)}  # the tables go whole
        for name in backends:
            skip.update(id(n) for n in walk(classes[name]))
        for stmt in module.body:
            if type(stmt) is cst.SimpleStatementLine and type(stmt.body[0]) in (cst.Import, cst.ImportFrom):
                skip.update(id(n) for n in walk(stmt))
        bases = {id(b.value) for cls in classes.values() for b in cls.bases}
        for node in walk(module):
            if type(node) is not cst.Name or node.value not in backends or id(node) in skip:
                continue
            parent = backends[node.value]
            if id(node) not in bases and _stands_in(classes[node.value], classes[parent], self.ATTRS):
                self.parents.setdefault(node.value, parent)
            else:
                self.kept.add(node.value)
        for name in self.kept:
            self.parents.pop(name, None)
        self.backends -= self.kept

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.alias.append(self._dispatch_aliases(node))
        self.probed.append(_probed_locals(node))

    def _dispatch_aliases(self, fn: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
        """Locals only ever bound to the eager function or to a registry lookup: they mean the eager function."""
        bound: dict[str, list[cst.BaseExpression]] = {}
        for node in walk(fn.body):  # exact types: every function is scanned, and libcst's isinstance is slow
            kind = type(node)
            if kind is cst.Assign and len(node.targets) == 1 and type(node.targets[0].target) is cst.Name:
                bound.setdefault(node.targets[0].target.value, []).append(node.value)
            elif kind is cst.AnnAssign and type(node.target) is cst.Name and node.value is not None:
                bound.setdefault(node.target.value, []).append(node.value)
        aliases = {}
        for name, values in bound.items():
            eager = [v for v in values if isinstance(v, cst.Name)]
            registry = [v for v in values if _REGISTRY in _names(v)]
            if registry and len(eager) + len(registry) == len(values):
                default = eager[0] if eager else _default_of(registry[0])
                if default is not None:
                    aliases[name] = default
        return aliases

    def leave_FunctionDef(self, original, updated):
        self.alias.pop()
        self.probed.pop()
        return super().leave_FunctionDef(original, updated)

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if type(target) is cst.Name and ((self.alias and target.value in self.alias[-1]) or target.value in self.tables
                                         or (self.probed and target.value in self.probed[-1])):
            return self.removed(original)
        return updated

    def leave_Name(self, original, updated):
        updated = super().leave_Name(original, updated)
        if type(updated) is not cst.Name or id(original) in self._bound:
            return updated
        if self.probed and updated.value in self.probed[-1]:
            return self._const(False)
        parent = self.parents.get(updated.value)
        return updated if parent is None else updated.with_changes(value=parent)

    def leave_AnnAssign(self, original, updated):
        if self.alias and m.matches(updated.target, m.Name()) and updated.target.value in self.alias[-1]:
            return self.removed(original)
        return updated

    def leave_Call(self, original, updated):
        updated = super().leave_Call(original, updated)
        if type(updated) is cst.Call and dotted(updated.func).rsplit(".", 1)[-1].startswith(_PROBES):
            return self._const(False)
        if type(updated) is cst.Call and id(original) in self._tests and _read_flag(updated) in self.ATTRS:
            return self._const(self.ATTRS[_read_flag(updated)])
        if isinstance(updated, cst.Call) and self.alias and m.matches(updated.func, m.Name()):
            target = self.alias[-1].get(updated.func.value)
            if target is not None:
                return updated.with_changes(func=target)
        return updated

    def leave_Subscript(self, original, updated):
        if m.matches(updated.value, m.Name()) and updated.value.value in self.tables:
            return self.tables[updated.value.value]
        return updated

    def _leaf(self, node):
        if type(node) is cst.Call and _read_flag(node) in self.ATTRS:
            return self.ATTRS[_read_flag(node)]
        return super()._leaf(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return node.name.value not in self.backends  # removed whole: nothing inside needs reading

    def leave_ClassDef(self, original, updated):
        return self.removed(original) if original.name.value in self.backends else updated

    def leave_Module(self, original, updated):
        """Backend subclasses of a local attention class of the same model (GPTNeoFlashAttention2(GPTNeoSelfAttention))
        that visit_Module did not name. A backend word before `Attention` only (FlexOlmoModel(OlmoeModel) is a model),
        and the base named as the class is before it (MiMoV2FlashAttention(DeepseekV3Attention) is MiMo-V2-Flash's)."""
        local = {s.name.value for s in updated.body if isinstance(s, cst.ClassDef)}
        body = []
        for stmt in updated.body:
            name = stmt.name.value if isinstance(stmt, cst.ClassDef) else ""
            heads = [name.split(w + "Attention")[0] for w in _BACKEND_WORDS if w + "Attention" in name]
            if heads and name not in self.kept and any(
                    dotted(b.value) in local and dotted(b.value).startswith(heads[0]) for b in stmt.bases):
                self.ctx.remove(self.NAME, stmt)
                continue
            body.append(stmt)
        return updated.with_changes(body=body)


def _probes(test: cst.CSTNode) -> bool:
    return any(type(n) is cst.Call and dotted(n.func).rsplit(".", 1)[-1].startswith(_PROBES) for n in walk(test))


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in find(node, cst.Name)}


def _default_of(lookup: cst.BaseExpression) -> cst.BaseExpression | None:
    """`ALL_ATTENTION_FUNCTIONS.get_interface(impl, eager_attention_forward)` -> eager_attention_forward."""
    if isinstance(lookup, cst.Call) and len(lookup.args) >= 2:
        return lookup.args[1].value
    return None


def _backend_parent(cls: cst.ClassDef, classes: dict[str, cst.ClassDef]) -> str | None:
    """The local class a backend class varies, by either of the two namings the pass removes: its name less the
    backend word (LlamaFlashAttention2(LlamaAttention)), or a base that starts as its name does before the backend
    word (GPTNeoFlashAttention2(GPTNeoSelfAttention))."""
    name, bases = cls.name.value, [dotted(b.value) for b in cls.bases]
    varied = _backend_of(name)
    if varied in classes and varied in bases:
        return varied
    heads = [name.split(w + "Attention")[0] for w in _BACKEND_WORDS if w + "Attention" in name]
    return next((b for b in bases if heads and b in classes and b.startswith(heads[0])), None)


def _params(fn: cst.FunctionDef | None) -> tuple[set[str], bool] | None:
    """A method's parameter names and whether it takes **kwargs; None where the class does not define it."""
    if fn is None:
        return None
    p = fn.params
    names = {x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)}
    if isinstance(p.star_arg, cst.Param):
        names.add("*" + p.star_arg.name.value)
    return names, p.star_kwarg is not None


def _method(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    return next((s for s in cls.body.body if type(s) is cst.FunctionDef and s.name.value == name), None)


def _stands_in(backend: cst.ClassDef, parent: cst.ClassDef, flags: dict) -> bool:
    """Whether the eager parent can be built where the backend is: the backend's forward takes no argument the
    parent's does not (Fast-dLLM's SDPA class adds a dual cache), and its own __init__ passes everything on and sets
    only the backend's flags (`_flash_attn_uses_top_left_mask`), no weights of its own."""
    mine, theirs = _params(_method(backend, "forward")), _params(_method(parent, "forward"))
    if mine is not None:
        if theirs is None or not mine[0] <= theirs[0] or (mine[1] and not theirs[1]):
            return False
    init = _method(backend, "__init__")
    if init is None:
        return True
    params = _params(init)
    if params is None or not (params[0] <= {"self", "*args"} and params[1]):
        return False
    for node in walk(init.body):
        if type(node) is cst.Assign:
            for target in node.targets:
                t = target.target
                if not (type(t) is cst.Attribute and dotted(t.value) == "self" and t.attr.value in flags):
                    return False
        elif type(node) in (cst.AugAssign, cst.AnnAssign):
            return False
    return True


def _probed_locals(fn: cst.FunctionDef) -> set[str]:
    """Locals every binding of which is a plain `x = is_flash_attn_2_available()`: each read of them is False. A
    parameter of that name is the caller's, not the probe's, and any other binding (a loop, a `global`) makes it
    something else."""
    probed, other = set(), {x.name.value for x in walk(fn.params) if type(x) is cst.Param}
    for node in walk(fn.body):
        kind = type(node)
        if kind is cst.Assign:
            one = len(node.targets) == 1 and type(node.targets[0].target) is cst.Name
            if one and type(node.value) is cst.Call and dotted(node.value.func).rsplit(".", 1)[-1].startswith(_PROBES):
                probed.add(node.targets[0].target.value)
            else:
                other.update(_names(cst.Tuple([cst.Element(t.target) for t in node.targets])))
        elif kind in (cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr):
            other.update(_names(node.target))
        elif kind in (cst.Global, cst.Nonlocal):
            other.update(n.name.value for n in node.names)
        elif kind is cst.AsName:
            other.update(_names(node.name))
        elif kind in (cst.FunctionDef, cst.ClassDef):
            other.add(node.name.value)
    return probed - other


def _read_flag(call: cst.Call) -> str | None:
    """`getattr(config, "_flash_attn_2_enabled", False)` -> the attribute it reads."""
    if dotted(call.func) == "getattr" and len(call.args) in (2, 3) and type(call.args[1].value) is cst.SimpleString:
        return call.args[1].value.evaluated_value
    return None
