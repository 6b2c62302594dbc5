"""Inline statics: a static method called once, as the whole value of an assignment or return in a method of its
class (5.x RoPE's `inv_freq, self.attention_scaling = self.compute_default_rope_parameters(config)`), runs its
statements there and its returned value is the value, a tuple assigned element by element: the default
frequencies read in `__init__`. Runs after the joins of temporaries (they make `self.m(x)` of
`fn = self.m; fn(x)`); reports as `inline`.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.names import bound_names, name_counts
from archread.parsers.analysis.nodes import SCOPED, dotted, only_small, sole_target, statements_in
from archread.parsers.analysis.rewrite import ReplaceReads, Splice
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass


def _static_call(stmt) -> tuple[cst.BaseSmallStatement, cst.Call] | None:
    """(the statement, its call) for `x = self.m(a, b)` or `return C.m(a)`: a call that is the whole value."""
    small = only_small(stmt)
    call = small.value if type(small) is cst.Return or (type(small) is cst.Assign and len(small.targets) == 1) else None
    if type(call) is cst.Call and type(call.func) is cst.Attribute and type(call.func.value) is cst.Name:
        return small, call
    return None


def _static_body(helper: cst.FunctionDef, call: cst.Call, caller: cst.FunctionDef) -> list | None:
    """The statements a static method's call runs, its parameters read as the names the call passes, the last
    one `return v` kept as v (in a one-statement Expr); None where it does not read that simply: the body
    is assignments to names then one return, every argument a name, no local meeting the caller's names."""
    params = helper.params
    if [dotted(d.decorator) for d in helper.decorators] != ["staticmethod"] or params.star_arg is not cst.MaybeSentinel.DEFAULT \
            or params.kwonly_params or params.star_kwarg is not None or params.posonly_params or type(helper.body) is not cst.IndentedBlock:
        return None
    names = [p.name.value for p in params.params]
    if any(a.star or type(a.value) is not cst.Name for a in call.args):
        return None
    given = dict(zip(names, (a.value.value for a in call.args if a.keyword is None)))
    given.update((a.keyword.value, a.value.value) for a in call.args if a.keyword is not None)
    *steps, last = helper.body.body
    ret = only_small(last)
    if set(given) != set(names) or type(ret) is not cst.Return or ret.value is None or any(
            type(_assigned_target(s)) not in (cst.Name, cst.Tuple) for s in steps):
        return None
    if any(type(n) in SCOPED for s in steps for n in walk(s)) or any(type(n) in SCOPED[1:] for n in walk(ret.value)):
        return None
    local = set(bound_names(helper.body))
    if local & (set(names) | set(name_counts(caller)) | set(given.values())):
        return None  # a parameter rebound, or a local that would meet the caller's own names
    if (set(name_counts(helper.body)) - local - set(names)) & set(bound_names(caller.body)):
        return None  # a global it reads (`torch`) that the caller binds as a local of its own
    rename = ReplaceReads({p: (lambda a=a: cst.Name(a)) for p, a in given.items() if p != a})
    return [transform(s, rename) for s in steps] + [transform(ret.value, rename)]


def _unpacked(stmt, small) -> list:
    """`a, b = x, y` as `a = x` and `b = y` where no value reads a target before it (the statement's lines
    otherwise, with small as its body)."""
    target = sole_target(small) if type(small) is cst.Assign else None
    value = small.value
    if type(target) is not cst.Tuple or type(value) is not cst.Tuple or len(target.elements) != len(value.elements) \
            or any(type(e) is not cst.Element for e in (*target.elements, *value.elements)):
        return [stmt.with_changes(body=[small])]
    seen: set[str] = set()
    for t, v in zip(target.elements, value.elements):
        read = {n.value for n in walk(v.value) if type(n) is cst.Name}
        if read & seen:
            return [stmt.with_changes(body=[small])]
        seen |= {n.value for n in walk(t.value) if type(n) is cst.Name} - {"self"}
    return [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(t.value)], v.value)]) for t, v in zip(target.elements, value.elements)]


def _assigned_target(stmt):
    small = only_small(stmt)
    return sole_target(small) if type(small) is cst.Assign else None



class InlineStatics(StripPass):
    NAME = "inline"
    DESCRIPTION = "A static method called once, as a whole value, in a method of its class runs its statements there."
    STRIP = [
        ("class R(nn.Module):\n    def __init__(self, config):\n        inv, self.scale = self.compute(config)\n"
         "        self.inv = nn.Buffer(inv)\n\n    @staticmethod\n    def compute(cfg):\n        dim = cfg.dim\n"
         "        return 1.0 / (dim * dim), 1.0\n",  # a static helper run once: its statements, its tuple element by element
         "class R(nn.Module):\n    def __init__(self, config):\n        dim = config.dim\n        inv = 1.0 / (dim * dim)\n"
         "        self.scale = 1.0\n        self.inv = nn.Buffer(inv)\n"),
    ]
    KEEP = [
        "class R(nn.Module):\n    def __init__(self, config):\n        self.a = self.compute(config)\n"
        "        self.b = self.compute(config)\n\n    @staticmethod\n    def compute(cfg):\n        return cfg.dim\n",  # run twice
        "class R(nn.Module):\n    def __init__(self, config):\n        dim = 3\n        self.a = self.compute(config) * dim\n\n"
        "    @staticmethod\n    def compute(cfg):\n        dim = cfg.dim\n        return dim * dim\n",  # its dim is not the caller's
    ]

    def leave_Module(self, original, updated):
        return self._inline_statics(updated)

    def _inline_statics(self, module: cst.Module) -> cst.Module:
        """A static method called once, as the whole value of an assignment or return in a method of its class
        (5.x RoPE's `inv_freq, self.attention_scaling = self.compute_default_rope_parameters(config)`): its
        statements run there and what it returned is the value, so the default frequencies read in `__init__`."""
        classes = [s for s in module.body if type(s) is cst.ClassDef]
        if not any(d.decorator.value == "staticmethod" for c in classes for f in c.body.body if type(f) is cst.FunctionDef
                   for d in f.decorators if type(d.decorator) is cst.Name):
            return module
        uses = Counter(a.attr.value for a in walk(module) if type(a) is cst.Attribute)
        defined = Counter(f.name.value for c in classes for f in c.body.body if type(f) is cst.FunctionDef)
        return module.with_changes(body=[
            self._statics_into(s, uses, defined) if type(s) is cst.ClassDef else s for s in module.body])

    def _statics_into(self, cls: cst.ClassDef, uses: Counter, defined: Counter) -> cst.ClassDef:
        methods = {f.name.value: f for f in cls.body.body if type(f) is cst.FunctionDef}
        splices, gone = {}, set()
        for caller in methods.values():
            for stmt in statements_in(caller.body.body):
                found = _static_call(stmt)
                name = found[1].func.attr.value if found else None
                helper = methods.get(name)
                if helper is None or helper is caller or defined[name] != 1 or uses[name] != 1 \
                        or found[1].func.value.value not in ("self", cls.name.value):
                    continue
                steps = _static_body(helper, found[1], caller)
                if steps is not None:
                    *before, value = steps
                    splices[id(stmt)] = [*before, *_unpacked(stmt, found[0].with_changes(value=value))]
                    gone.add(name)
                    break  # one a caller: two helpers' locals could meet
        if not splices:
            return cls
        self.ctx.removed[self.NAME] += 2 * len(gone)  # each one's decorator and `def` line
        splice = Splice(splices)
        members = [transform(f, splice) if type(f) is cst.FunctionDef else f for f in cls.body.body
                   if not (type(f) is cst.FunctionDef and f.name.value in gone)]
        return cls.with_changes(body=cls.body.with_changes(body=members))

