"""How the modular converter reads a modular file where Python inheritance would read it otherwise.

`class Gemma2MLP(GemmaMLP)` whose `__init__` calls `super().__init__(config)` then sets `self.act_fn` again
means GemmaMLP's `__init__` with that line replaced: the parent's body is unrolled in place, the child's line
where the parent's was (or none, where the child deletes the attribute). Run as Python, the parent's line
would still run, and read a configuration field (`hidden_act`) the new model's configuration may not have.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.names import bound_names, names_in
from archread.parsers.analysis.nodes import dotted, is_self_attr, method
from archread.parsers.analysis.rewrite import ReplaceReads
from archread.parsers.fastcst import transform, walk


def prefixes(module: cst.Module, lent: set[str]) -> dict[str, str]:
    """Lender prefix -> module prefix, read off the module's classes built on lent ones: `Olmo2Attention(OlmoAttention)`
    gives "Olmo" -> "Olmo2", `DiffLlamaDecoderLayer(LlamaDecoderLayer)` "Llama" -> "DiffLlama" (the longest
    ending from a capital of the lent name that both share)."""
    found = {}
    for cls in (s for s in module.body if type(s) is cst.ClassDef):
        ours = cls.name.value
        for theirs in (dotted(b.value) for b in cls.bases):
            cut = next((i for i in range(1, len(theirs)) if theirs[i].isupper() and ours.endswith(theirs[i:])
                        and len(ours) > len(theirs) - i), None) if theirs in lent else None
            if cut is not None and ours[: len(ours) - len(theirs) + cut] != theirs[:cut]:
                found.setdefault(theirs[:cut], ours[: len(ours) - len(theirs) + cut])
    return dict(sorted(found.items(), key=lambda kv: -len(kv[0])))  # longest first: "Qwen2Moe" before "Qwen2"


def _super_init(stmt) -> cst.Call | None:
    small = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
    call = small.value if type(small) is cst.Expr else None
    if type(call) is cst.Call and type(call.func) is cst.Attribute and call.func.attr.value == "__init__" \
            and type(call.func.value) is cst.Call and dotted(call.func.value.func) == "super" and not call.func.value.args:
        return call
    return None


def _set_here(stmt) -> set[str]:
    """What a line at a method's top sets or deletes: `self.a = …`, `del self.a` -> {"self.a"}; a local `x = …`
    -> {"x"} (the converter replaces a parent's local the child sets again, as it does an attribute)."""
    small = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
    if type(small) is cst.Assign:
        return {f"self.{t.target.attr.value}" if is_self_attr(t.target) else t.target.value for t in small.targets
                if is_self_attr(t.target) or type(t.target) is cst.Name}
    if type(small) is cst.Del and is_self_attr(small.target):
        return {f"self.{small.target.attr.value}"}
    return set()


def _bindings(init: cst.FunctionDef, call: cst.Call, child: set[str]) -> dict | None:
    """Parameter -> expression the call gives it (or its default); None where it cannot be read plainly. A
    parameter the call leaves out is the child's of that name (`super().__init__()` in a child taking `config`:
    the converter's text is the parent's, read with the child's names)."""
    params = init.params
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.star_kwarg is not None or params.posonly_params:
        return None
    named = [*params.params[1:], *params.kwonly_params]
    given, args = {}, list(call.args)
    if args and args[0].keyword is None and type(args[0].value) is cst.Name and args[0].value.value == "self":
        args = args[1:]  # `super().__init__(self, config)`: the converter reads past the stray `self`
    for i, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is None:
            if i >= len(params.params) - 1:
                return None
            given[params.params[i + 1].name.value] = arg.value
        else:
            given[arg.keyword.value] = arg.value
    bound = {}
    for p in named:
        value = given.pop(p.name.value, p.default)
        if value is None and p.name.value not in child:
            return None
        if value is not None and not (type(value) is cst.Name and value.value == p.name.value):
            bound[p.name.value] = value
    return None if given else bound


class _BaseInitSelf(cst.CSTTransformer):
    """`nn.Module.__init__()`: the converter's way to skip the parent's `__init__`; Python needs the `self`."""

    def leave_Call(self, original, updated):
        func = updated.func
        if not updated.args and type(func) is cst.Attribute and func.attr.value == "__init__" \
                and dotted(func.value).endswith("Module"):
            return updated.with_changes(args=[cst.Arg(cst.Name("self"))])
        return updated


_BINDING = ("staticmethod", "classmethod")


def _as_parent_binds(cls: cst.ClassDef, parent: cst.ClassDef) -> cst.ClassDef:
    """An override written without the parent's @staticmethod (GLM's `compute_default_rope_parameters(config)`):
    the converter keeps the parent's decorator, and Python would hand it `self` without it."""
    members = []
    for m in cls.body.body:
        theirs = method(parent, m.name.value) if type(m) is cst.FunctionDef and not m.decorators else None
        kept = [d for d in theirs.decorators if dotted(d.decorator) in _BINDING] if theirs is not None else []
        members.append(m.with_changes(decorators=kept) if kept else m)
    return cls.with_changes(body=cls.body.with_changes(body=members))


def as_converted(cls: cst.ClassDef, parent: cst.ClassDef | None) -> cst.ClassDef:
    """A modular file's class built on a lent one (parent, None where its first base is not lent), as the
    converter writes it: overrides bind as the parent's do, `nn.Module.__init__()` gets its `self`, and
    `super().__init__(…)` is the parent's body unrolled."""
    if type(cls.body) is not cst.IndentedBlock:
        return cls
    if parent is not None:
        cls = _as_parent_binds(cls, parent)
    init = method(cls, "__init__")
    if init is None:
        return cls
    fixed = transform(init, _BaseInitSelf())
    if fixed is not init:
        cls = cls.with_changes(body=cls.body.with_changes(body=[fixed if m is init else m for m in cls.body.body]))
    return _unroll_init(cls, fixed, parent) if parent is not None else cls


def _unroll_init(cls: cst.ClassDef, init: cst.FunctionDef, parent: cst.ClassDef) -> cst.ClassDef:
    """cls with `super().__init__(…)` in its `__init__` replaced by the parent's body, cls's own line where it
    sets again what a line of the parent's set (the parent's line goes where cls deletes the attribute).
    The parent's own `super().__init__()` becomes `super(Parent, self).__init__()`: from cls it is the parent's
    base that must run, not the parent's `__init__` again."""
    theirs = method(parent, "__init__")
    if theirs is None or any(type(n) is cst.Return for n in walk(theirs.body)):
        return cls
    body = list(init.body.body)
    at = next((i for i, s in enumerate(body) if _super_init(s) is not None), None)
    call = _super_init(body[at]) if at is not None else None
    star = init.params.star_kwarg
    if call is not None and star is not None and not init.params.params[1:] and not init.params.kwonly_params \
            and [(a.star, getattr(a.value, "value", None)) for a in call.args] == [("**", star.name.value)]:
        call, params = call.with_changes(args=[]), theirs.params  # `**super_kwargs`: the parent's parameters
    else:
        params = init.params
    child = {p.name.value for p in (*params.params, *params.kwonly_params)}
    bound = _bindings(theirs, call, child) if call is not None else None
    if bound is None:
        return cls
    later = body[at + 1:]
    redone = set().union(*(_set_here(s) for s in later))
    local = set(bound_names(cst.IndentedBlock(body=later))) if later else set()  # the child's own locals
    first = {}  # what is set -> index in later of the child's line that can take the parent's line's place
    for j, s in enumerate(later):
        small = s.body[0] if type(s) is cst.SimpleStatementLine and len(s.body) == 1 else None
        if type(small) is cst.Assign and len(_set_here(s)) == 1 and not names_in(small.value) & local:
            first.setdefault(next(iter(_set_here(s))), j)
    inherited, dropped, moved = [], set(), set()
    for stmt in theirs.body.body:
        targets = _set_here(stmt)
        if targets & redone:  # the child's line where the parent's was (later lines may read it), or none
            dropped |= targets
            j = first.get(next(iter(targets))) if len(targets) == 1 else None
            if j is not None and j not in moved:
                moved.add(j)
                inherited.append(later[j])
            continue
        if _super_init(stmt) is not None:
            call = _super_init(stmt)
            up = call.func.value.with_changes(args=[cst.Arg(cst.Name(parent.name.value)), cst.Arg(cst.Name("self"))])
            stmt = stmt.with_changes(body=[stmt.body[0].with_changes(value=call.with_changes(func=call.func.with_changes(value=up)))])
        if bound:
            stmt = transform(stmt, ReplaceReads({k: (lambda v=v: v) for k, v in bound.items()}))
        inherited.append(stmt)
    own = [s for j, s in enumerate(later) if j not in moved  # and no `del self.a` of a line that no longer runs
           and not (type(s) is cst.SimpleStatementLine and type(s.body[0]) is cst.Del and _set_here(s) <= dropped)]
    members = [init.with_changes(params=params, body=init.body.with_changes(body=[*body[:at], *inherited, *own])) if m is init else m
               for m in cls.body.body]
    return cls.with_changes(body=cls.body.with_changes(body=members))
