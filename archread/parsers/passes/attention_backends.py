"""Attention backends: FlashAttention2, SDPA and flex paths go; the eager path is the math."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.nodes import dotted, find, sole_target
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

_BACKEND_WORDS = ("Flash", "Sdpa", "SDPA", "Flex")
_REGISTRY = "ALL_ATTENTION_FUNCTIONS"


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
    ATTRS = {"_attn_implementation": "eager", "_flash_attn_uses_top_left_mask": False}
    CALLS = ("is_flash_attn", "is_torch_flex_attn", "is_torch_sdpa", "is_torch_greater_or_equal", "is_torchdynamo")
    STRIP = [(
        "def forward(self, q, k, v):\n    attention_interface = eager_attention_forward\n"
        "    if self.config._attn_implementation != 'eager':\n"
        "        attention_interface = ALL_ATTENTION_FUNCTIONS[self.config._attn_implementation]\n"
        "    return attention_interface(self, q, k, v)\n",
        "def forward(self, q, k, v):\n    return eager_attention_forward(self, q, k, v)\n",
    )]
    KEEP = ["def forward(self, q, k, v):\n    return attend(q, k, v)\n"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.tables: dict[str, cst.BaseExpression] = {}  # NAME_ATTENTION_CLASSES -> its "eager" entry
        self.functions: set[str] = set()
        self.alias: list[dict[str, cst.BaseExpression]] = []
        self.backends: set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.functions = {s.name.value for s in node.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
        local = {s.name.value for s in node.body if isinstance(s, cst.ClassDef)}
        self.backends = {  # a backend named after the local class it subclasses (LlamaFlashAttention2(LlamaAttention))
            s.name.value for s in node.body if isinstance(s, cst.ClassDef) and _backend_of(s.name.value) in local
            and _backend_of(s.name.value) in {dotted(b.value) for b in s.bases}}
        for stmt in node.body:
            if m.matches(stmt, m.SimpleStatementLine([m.Assign(targets=[m.AssignTarget(m.Name())], value=m.Dict())])):
                assign = stmt.body[0]
                entries = _string_keys(assign.value)
                if "eager" in entries:
                    self.tables[assign.targets[0].target.value] = entries["eager"]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.alias.append(self._dispatch_aliases(node))

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
        return super().leave_FunctionDef(original, updated)

    def leave_Assign(self, original, updated):
        target = sole_target(updated)
        if type(target) is cst.Name and ((self.alias and target.value in self.alias[-1]) or target.value in self.tables):
            return self.removed(original)
        return updated

    def leave_AnnAssign(self, original, updated):
        if self.alias and m.matches(updated.target, m.Name()) and updated.target.value in self.alias[-1]:
            return self.removed(original)
        return updated

    def leave_Call(self, original, updated):
        updated = super().leave_Call(original, updated)
        if isinstance(updated, cst.Call) and self.alias and m.matches(updated.func, m.Name()):
            target = self.alias[-1].get(updated.func.value)
            if target is not None:
                return updated.with_changes(func=target)
        return updated

    def leave_Subscript(self, original, updated):
        if m.matches(updated.value, m.Name()) and updated.value.value in self.tables:
            return self.tables[updated.value.value]
        return updated

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
            if heads and any(dotted(b.value) in local and dotted(b.value).startswith(heads[0]) for b in stmt.bases):
                self.ctx.remove(self.NAME, stmt)
                continue
            body.append(stmt)
        return updated.with_changes(body=body)


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in find(node, cst.Name)}


def _default_of(lookup: cst.BaseExpression) -> cst.BaseExpression | None:
    """`ALL_ATTENTION_FUNCTIONS.get_interface(impl, eager_attention_forward)` -> eager_attention_forward."""
    if isinstance(lookup, cst.Call) and len(lookup.args) >= 2:
        return lookup.args[1].value
    return None
