"""Inline: a temporary that only feeds a later statement joins that statement.

`out = self.o_proj(out); return out` becomes `return self.o_proj(out)`; `q = self.q_proj(h)` … `q = q.view(s)
.transpose(1, 2)` becomes `q = self.q_proj(h).view(s).transpose(1, 2)`; `cos, sin = f(x); return cos, sin`
becomes `return f(x)`; and in general `residual = h; h = self.norm(h); h = self.mlp(h); return residual + h`
becomes `return h + self.mlp(self.norm(h))`, the equation the four lines spell. A temporary joins only where
its one read is sure to run, once, after nothing that could tell the difference (no mutating call evaluated
before it, none in it, none moved past); where it is dead afterwards; where the statements it moves past are
plain assignments that neither touch it nor rebind what it reads; and where the result takes fewer lines (at
most two, or as many as the taller of the two). A literal stays for the folds that read it by name, and an
operation does not become the bracketed head of a method chain. `e = self.embed(ids)` … `h = e` with e
dead afterwards names it h from the start. A helper method run once from another
(`self._init_rope()`) is inlined the same way, its body in place of the call; so is a static method run once as
the value of an assignment (5.x RoPE's `compute_default_rope_parameters`), its returned tuple assigned element by
element.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.expressions import PRIMARY, effect_free, read_site, replaced
from archread.parsers.analysis.layout import WIDTH, Flatten, height, joined
from archread.parsers.analysis.names import bound_names, name_counts
from archread.parsers.analysis.nodes import dotted, only_small, sole_target
from archread.parsers.analysis.rewrite import ReplaceReads
from archread.parsers.fastcst import code_of, remembered, transform, walk
from archread.parsers.passes.base import StripPass

_BLOCKS = (cst.If, cst.Else, cst.For, cst.While, cst.With)


def _statements(body):
    """Every statement of a body, nested blocks included."""
    for stmt in body:
        yield stmt
        if type(stmt) in _BLOCKS:
            if type(stmt.body) is cst.IndentedBlock:
                yield from _statements(stmt.body.body)
            orelse = getattr(stmt, "orelse", None)
            if orelse is not None:
                yield from _statements([orelse])


def _self_call(stmt) -> str | None:
    """m of the statement `self.m()`."""
    small = only_small(stmt)
    call = small.value if type(small) is cst.Expr else None
    if type(call) is cst.Call and not call.args and type(call.func) is cst.Attribute:
        if type(call.func.value) is cst.Name and call.func.value.value == "self":
            return call.func.attr.value
    return None


def _inlinable(helper: cst.FunctionDef, caller: cst.FunctionDef) -> bool:
    params = helper.params
    if helper.decorators or [p.name.value for p in params.params] != ["self"] or params.star_arg is not cst.MaybeSentinel.DEFAULT \
            or params.kwonly_params or params.star_kwarg is not None or params.posonly_params:
        return False
    if type(helper.body) is not cst.IndentedBlock or any(type(n) in _SCOPED for n in walk(helper.body)):
        return False  # a return would leave the caller; a nested scope or global statement reads differently
    return not ((set(bound_names(helper.body)) - {"self"}) & set(name_counts(caller)))  # its locals must not meet the caller's


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
    if any(type(n) in _SCOPED for s in steps for n in walk(s)) or any(type(n) in _SCOPED[1:] for n in walk(ret.value)):
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


_SCOPED = (cst.Return, cst.Yield, cst.Await, cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Global, cst.Nonlocal)


class _Splice(cst.CSTTransformer):
    """The statements `self.m()` given by identity become m's body."""

    def __init__(self, bodies: dict[int, list]):
        super().__init__()
        self.bodies = bodies

    def leave_SimpleStatementLine(self, original, updated):
        body = self.bodies.get(id(original))
        return cst.FlattenSentinel(body) if body is not None else updated


def _lazy(compute, *args):
    """compute(*args), computed on the first call only."""
    memo = []

    def value():
        if not memo:
            memo.append(compute(*args))
        return memo[0]
    return value


def _assigned_name(small) -> str | None:
    target = sole_target(small) if type(small) is cst.Assign else None
    return target.value if type(target) is cst.Name else None


def _tuple_names(node) -> list[str] | None:
    if type(node) is cst.Tuple and all(type(e) is cst.Element and type(e.value) is cst.Name for e in node.elements):
        return [e.value.value for e in node.elements]
    return None


def _head(expr: cst.BaseExpression) -> str | None:
    """The name a call/attribute/subscript chain starts from (`q` of `q.view(s).transpose(1, 2)`)."""
    while type(expr) in (cst.Call, cst.Attribute, cst.Subscript):
        expr = expr.func if type(expr) is cst.Call else expr.value
    return expr.value if type(expr) is cst.Name else None


def _with_head(expr: cst.BaseExpression, name: str, new: cst.BaseExpression):
    """expr with the name at the head of its call/attribute/subscript chain replaced by new; None if the
    chain does not start at that name."""
    kind = type(expr)
    if kind is cst.Name:
        return new if expr.value == name else None
    field = "func" if kind is cst.Call else "value" if kind in (cst.Attribute, cst.Subscript) else None
    inner = _with_head(getattr(expr, field), name, new) if field else None
    return expr.with_changes(**{field: inner}) if inner is not None else None


def _movable_past(stmts: list, name: str, reads: set[str]) -> bool:
    """Whether an expression reading `reads` can be evaluated after stmts instead of before them."""
    for stmt in stmts:
        small = only_small(stmt)
        if type(small) is not cst.Assign or any(type(t.target) not in (cst.Name, cst.Tuple) for t in small.targets):
            return False  # a call for its effect, an attribute store: keep the order
        if name in name_counts(stmt) or reads & set(bound_names(stmt)):
            return False
    return True


_OWN_NAMES = (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Global, cst.Nonlocal, cst.Del)


def _binds(body: list) -> Counter:
    total = Counter()
    for stmt in body:
        total.update(bound_names(stmt))
    return total


def _alias(stmt, done: list, rest: list, binds) -> tuple[str, str] | None:
    """(a, b) for a function's top-level `a = b` where a is bound only there and b never after (a parameter,
    or bound once above): every later read of a can read b."""
    small = only_small(stmt)
    a = _assigned_name(small)
    if a is None or type(small.value) is not cst.Name or small.value.value in (a, "None", "True", "False"):
        return None
    b = small.value.value
    if binds()[a] != 1 or binds()[b] > 1 or (binds()[b] and not any(bound_names(s)[b] for s in done)):
        return None
    if any(type(n) in _OWN_NAMES for s in rest for n in walk(s)):
        return None  # a nested scope may bind either name itself; `del a` must stay a
    return a, b


def _literal(value) -> bool:
    return type(value) in (cst.Integer, cst.Float, cst.SimpleString) or (
        type(value) is cst.Name and value.value in ("True", "False", "None"))


def _bracketed_head(value, path: list) -> bool:
    """Whether value would head a method chain in brackets there (`(h * w).to(dtype)`), which reads worse
    than the temporary did."""
    if len(path) < 2 or type(value) in PRIMARY or value.lpar:
        return False
    parent = path[-2]
    return (type(parent) is cst.Attribute and parent.value is path[-1]) or (
        type(parent) in (cst.Call, cst.Subscript) and getattr(parent, "func", getattr(parent, "value", None)) is path[-1])


def _measured(stmt, indent: int) -> tuple[int, int]:
    text = code_of(stmt).strip("\n")
    lines = 1 if "\n" not in text and indent + len(text) <= WIDTH else (height(stmt, indent, text) or text.count("\n") + 1)
    if lines == 1 and "\n" in text:  # wrapped now, one line once laid out
        text = code_of(transform(stmt, Flatten()))
    return lines, len(text.strip() if lines == 1 else joined(text))


def _lead(small) -> str:
    """What comes before the value: `return `, `x = `."""
    return "return " if type(small) is cst.Return else code_of(small.targets[0]).strip() + " "


def _fits(stmt: cst.SimpleStatementLine, indent: int) -> bool:
    return height(stmt, indent) == 1


class Inline(StripPass):
    NAME = "inline"
    DESCRIPTION = "A temporary read once, where moving its value there changes nothing, joins that statement."
    STRIP = [
        ("def f(self, h):\n    out = self.proj(h)\n    return out\n", "def f(self, h):\n    return self.proj(h)\n"),
        ("def f(self, h):\n    q = self.q(h)\n    k = self.k(h)\n    q = q.view(2, 3)\n    return q, k\n",
         "def f(self, h):\n    return self.q(h).view(2, 3), self.k(h)\n"),
        ("def f(self, h):\n    residual = h\n    h = self.norm(h)\n    h = self.mlp(h)\n    return residual + h\n",
         "def f(self, h):\n    return h + self.mlp(self.norm(h))\n"),
        ("def f(self, ids):\n    e = self.embed(ids)\n    m = self.mask(e, e)\n    h = e\n    return self.layer(h, m)\n",
         "def f(self, ids):\n    h = self.embed(ids)\n    return self.layer(h, self.mask(h, h))\n"),
        ("def f(self, h):\n    h = self.attn(h) + h\n    n = self.norm(h)\n    r = h\n    return self.ffn(n, r) + r\n",
         "def f(self, h):\n    r = self.attn(h) + h\n    return self.ffn(self.norm(r), r) + r\n"),  # the h it reads stays h
        ("def f(a, b, c):\n    t = b - c\n    u = b * c\n    return a - t, a + u\n", "def f(a, b, c):\n    return a - (b - c), a + b * c\n"),
        ("def f(self, x):\n    cos, sin = self.rope(x)\n    return cos, sin\n", "def f(self, x):\n    return self.rope(x)\n"),
        ("def f(self, h):\n    a = self.q(h)\n    b = a\n    return b * 2\n", "def f(self, h):\n    return self.q(h) * 2\n"),
        ("def f(self, h, n):\n    m = n\n    x = self.q(h, m)\n    return x * n + m\n",  # an alias of what never changes
         "def f(self, h, n):\n    return self.q(h, n) * n + n\n"),
        ("class A(nn.Module):\n    def __init__(self, config):\n        self.config = config\n        self._init_rope()\n\n"
         "    def _init_rope(self):\n        if self.config.rope:\n            self.rope = R()\n",
         "class A(nn.Module):\n    def __init__(self, config):\n        self.config = config\n        if self.config.rope:\n"
         "            self.rope = R()\n"),
        ("class R(nn.Module):\n    def __init__(self, config):\n        inv, self.scale = self.compute(config)\n"
         "        self.inv = nn.Buffer(inv)\n\n    @staticmethod\n    def compute(cfg):\n        dim = cfg.dim\n"
         "        return 1.0 / (dim * dim), 1.0\n",  # a static helper run once: its statements, its tuple element by element
         "class R(nn.Module):\n    def __init__(self, config):\n        dim = config.dim\n        inv = 1.0 / (dim * dim)\n"
         "        self.scale = 1.0\n        self.inv = nn.Buffer(inv)\n"),
    ]
    KEEP = [
        "def f(self, h):\n    q = self.q(h)\n    h = h + 1\n    q = q.view(2, 3)\n    return q * q, h * h\n",  # h changes between
        "def f(self, h):\n    q = self.q(h)\n    self.log(q)\n    q = q.view(2, 3)\n    return q, q.shape\n",  # q read between
        "def f(self, h):\n    q = self.q(h)\n    q = q.view(q.shape[0], 3)\n    return q * q\n",  # read twice
        "def f(self, h):\n    t = h.mul_(2)\n    return self.proj(t)\n",  # in place: where it runs matters
        "def f(self, h):\n    t = self.q(h)\n    return self.buf.add_(1) + t\n",  # would run after a mutation
        "def f(self, h, c):\n    t = self.q(h)\n    return t if c else h\n",  # would run only sometimes
        "def f(self, h):\n    for i in h:\n        t = self.q(i)\n        h = self.k(t)\n    return h + t\n",  # read after
        "def f(self, h):\n    t = self.q(h)\n    h = self.k(t)\n    if h.shape[0]:\n        h = h + t\n    return h\n",
        "class A:\n    n = 2\n    m = n * 2\n",  # a class attribute, not a temporary
        "def f(self, x, out, c):\n    for i in c:\n        s = c[i]\n        out[s:] = self.w(x[s:])\n    return out\n",
        "def f(self, c):\n    n = c.n if c.n else 2\n    self.n = n\n    self.w = W(n)\n",  # `self.n` does not rebind n
        "def f(self, ids):\n    e = self.embed(ids)\n    h = e\n    for layer in self.layers:\n        h = layer(h, e)\n    return h\n",
        "class N:\n    def forward(self, hidden_states):\n        variance = hidden_states.pow(2).mean(-1, keepdim=True)\n"
        "        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)\n"
        "        return self.weight * hidden_states.to(torch.float16)\n",  # past the line width
        "def f(self, h):\n    h = h * 2\n    return h.to(torch.float16)\n",  # `(h * 2).to(...)` reads worse
        "def f(self, h):\n    a = self.q(h)\n    b = a\n    a = a + 1\n    return a * a + b\n",  # a changes after the rename
        "def f(self, h, n):\n    m = n\n    n = n + 1\n    return h * n + m * n\n",  # n rebound: m keeps the old value
        "def f(self, h, n):\n    m = n\n    x = self.q(h, m)\n    del m\n    return x * n\n",  # `del m` must stay m
        "class A(nn.Module):\n    def __init__(self):\n        self._build()\n\n    def _build(self):\n        if x:\n"
        "            return\n        self.p = 1\n",  # the helper's return would leave the caller
        "class A(nn.Module):\n    def __init__(self):\n        self._build()\n\n    def forward(self, x):\n"
        "        self._build()\n        return x\n\n    def _build(self):\n        self.p = 1\n",  # run twice
        "class A(nn.Module):\n    def __init__(self, n):\n        self._build()\n        self.p = n\n\n"
        "    def _build(self):\n        n = 2\n        self.q = n * n\n",  # its local would overwrite the caller's
        "class R(nn.Module):\n    def __init__(self, config):\n        self.a = self.compute(config)\n"
        "        self.b = self.compute(config)\n\n    @staticmethod\n    def compute(cfg):\n        return cfg.dim\n",  # run twice
        "class R(nn.Module):\n    def __init__(self, config):\n        dim = 3\n        self.a = self.compute(config) * dim\n\n"
        "    @staticmethod\n    def compute(cfg):\n        dim = cfg.dim\n        return dim * dim\n",  # its dim is not the caller's
    ]

    def leave_Module(self, original, updated):
        updated = self._inline_helpers(updated)
        updated = updated.with_changes(body=self._block(updated.body, 0, Counter, None))
        return self._inline_statics(updated)  # after the joins: they make `self.m(x)` of `fn = self.m; fn(x)`

    def _inline_helpers(self, module: cst.Module) -> cst.Module:
        """A method taking only `self` and returning nothing, called once, as the statement `self.m()` in
        another method of its class (4.4x attention's `self._init_rope()` in `__init__`): its body replaces
        the call, so what it builds reads where it is built."""
        classes = [s for s in module.body if type(s) is cst.ClassDef]
        defined = Counter(f.name.value for c in classes for f in c.body.body if type(f) is cst.FunctionDef)
        calls = {}  # class name -> {method: (caller, call statement)}
        for cls in classes:
            methods = {f.name.value: f for f in cls.body.body if type(f) is cst.FunctionDef}
            for caller in methods.values():
                for stmt in _statements(caller.body.body):
                    name = _self_call(stmt)
                    helper = methods.get(name)
                    if helper is not None and helper is not caller and defined[name] == 1 and _inlinable(helper, caller):
                        calls.setdefault(cls.name.value, {})[name] = (caller, stmt)
        if not calls:
            return module
        uses = Counter(a.attr.value for a in walk(module) if type(a) is cst.Attribute)  # the call its one use
        body = []
        for stmt in module.body:
            if type(stmt) is cst.ClassDef:
                todo = {n: c for n, c in calls.get(stmt.name.value, {}).items() if uses[n] == 1}
                stmt = self._inline_into(stmt, todo) if todo else stmt
            body.append(stmt)
        return module.with_changes(body=body)

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
            for stmt in _statements(caller.body.body):
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
        splice = _Splice(splices)
        members = [transform(f, splice) if type(f) is cst.FunctionDef else f for f in cls.body.body
                   if not (type(f) is cst.FunctionDef and f.name.value in gone)]
        return cls.with_changes(body=cls.body.with_changes(body=members))

    def _inline_into(self, cls: cst.ClassDef, todo: dict) -> cst.ClassDef:
        helpers = {f.name.value: f for f in cls.body.body if type(f) is cst.FunctionDef and f.name.value in todo}
        by_call = {id(call): helpers[name].body.body for name, (_, call) in todo.items()}
        members = []
        for f in cls.body.body:
            if type(f) is cst.FunctionDef and f.name.value in helpers:
                self.ctx.removed[self.NAME] += 2  # its `def` line and the call
                continue
            if type(f) is cst.FunctionDef and any(caller is f for caller, _ in todo.values()):
                f = transform(f, _Splice(by_call))
            members.append(f)
        return cls.with_changes(body=cls.body.with_changes(body=members))

    def _block(self, body, indent: int, counts, scope: str | None) -> list:
        """counts(): each name's occurrences in the enclosing function, counted on first use (stale only upwards
        as joins remove some). scope: "body" for a function's own body, "nested" for a block inside one, None
        at module and class level, where a name is a global or an attribute and stays."""
        out, body, binds = [], list(body), _lazy(_binds, body)
        for i, stmt in enumerate(body):
            stmt = self._nested(stmt, indent, counts, scope)
            renamed = self._renamed(out, stmt, body[i + 1:], scope, counts) if scope else None
            if renamed is not None:  # `e = self.embed(ids)` … `h = e`: e is h from the start
                j, span = renamed
                out[j:] = span
                self.ctx.removed[self.NAME] += 1
                continue
            alias = _alias(stmt, out, body[i + 1:], binds) if scope == "body" else None
            if alias is not None:  # `seq_length_with_past = seq_length`, neither ever rebound: one name
                body[i + 1:] = [transform(s, ReplaceReads({alias[0]: lambda: cst.Name(alias[1])})) for s in body[i + 1:]]
                self.ctx.removed[self.NAME] += 1
                continue
            while True:  # a joined statement may take the temporary before it too
                joined = self._join(out, stmt, indent, counts) or (
                    self._nest(out, stmt, indent, counts, body[i + 1:], scope) if scope else None)
                if joined is None:
                    break
                index, stmt = joined
                del out[index]
                self.ctx.removed[self.NAME] += 1
            out.append(stmt)
        return out

    def _nested(self, stmt, indent: int, counts, scope: str | None):
        """stmt with the statement lists inside it (class and function bodies, branches, loops) joined too."""
        kind = type(stmt)
        if kind in (cst.ClassDef, cst.FunctionDef) or kind in _BLOCKS:
            changes = {}
            if kind is cst.FunctionDef:
                counts, inner = _lazy(name_counts, stmt.body), "body"
            else:
                inner = None if kind is cst.ClassDef or scope is None else "nested"
            if type(stmt.body) is cst.IndentedBlock:
                changes["body"] = stmt.body.with_changes(body=self._block(stmt.body.body, indent + 4, counts, inner))
            orelse = getattr(stmt, "orelse", None)
            if orelse is not None:
                changes["orelse"] = self._nested(orelse, indent, counts, scope)
            return stmt.with_changes(**changes) if changes else stmt
        return stmt

    def _nest(self, done: list, stmt, indent: int, counts, rest: list, scope: str):
        """(index in done, joined statement) where a temporary read once in stmt's value can take its place
        there: the read is sure to run, nothing evaluated before it or moved past changes anything, the
        temporary is dead after stmt, and the result takes fewer lines, at most two (or the taller one's)."""
        small = only_small(stmt)
        kind = type(small)
        if not ((kind is cst.Assign and len(small.targets) == 1) or kind is cst.Expr or (kind is cst.Return and small.value)):
            return None
        reads, seen = name_counts(small.value), set()
        for index in range(len(done) - 1, -1, -1):
            first = only_small(done[index])
            if first is None:
                return None  # nothing moves past a compound statement
            name = _assigned_name(first)
            if name is None or name in seen or reads[name] != 1:
                seen.add(name)
                continue
            seen.add(name)
            if kind is cst.Assign and name in name_counts(small.targets[0]) and not bound_names(small.targets[0])[name]:
                continue  # `out[start:end] = f(x[start:end])`: the target reads it too, after the value
            site = read_site(small.value, name)
            if site is None or _literal(first.value) or not effect_free(first.value, *site[1]):
                continue  # a literal stays for the folds that read it by name
            if _bracketed_head(first.value, site[0]):
                continue
            between = done[index + 1:]
            if between and not (effect_free(*between) and _movable_past(between, name, set(name_counts(first.value)))):
                continue
            if not self._dead_after(name, small, done[index], stmt, rest, scope, counts):
                continue
            (old, old_width), (before, before_width) = self._measure(stmt, indent), self._measure(done[index], indent)
            width = old_width + before_width - len(name) * 2 - 3  # joined on one line, less `name = `
            if old == before == 1 and indent + width > WIDTH:
                continue  # two one-liners join only onto one line
            if -(-(width - 8) // (WIDTH - indent)) > min(before + old - 1, max(2, old, before)):
                continue  # too wide for the lines it may take, whatever the layout (8: commas and spaces it drops)
            merged = stmt.with_changes(body=[small.with_changes(value=replaced(small.value, site[0], first.value))])
            lines = 1 if old == before == 1 and indent + width + 2 <= WIDTH else height(merged, indent)  # 2: brackets
            if lines is not None and lines < before + old and lines <= max(2, old, before):
                return index, merged
        return None

    def _renamed(self, done: list, stmt, rest: list, scope: str, counts):
        """(index in done, its statements from there on) with `b` called `a` from its assignment on, where
        stmt is `a = b`, b is dead after it and a is not mentioned from b's assignment to stmt."""
        small = only_small(stmt)
        a = _assigned_name(small)
        if a is None or type(small.value) is not cst.Name or small.value.value == a:
            return None
        b = small.value.value
        j = next((j for j in range(len(done) - 1, -1, -1) if _assigned_name(only_small(done[j])) == b), None)
        if j is None:
            return None
        span = done[j:]
        if any(a in name_counts(s) or any(type(n) in _SCOPED for n in walk(s)) for s in span) \
                or any(bound_names(s)[b] for s in span[1:]):
            return None
        if not self._dead_after(b, small, span[0], stmt, rest, scope, counts):
            return None
        rename = ReplaceReads({b: lambda: cst.Name(a)})
        first = only_small(span[0])  # its value reads the b before it: only its target is renamed
        head = span[0].with_changes(body=[first.with_changes(targets=[first.targets[0].with_changes(target=cst.Name(a))])])
        return j, [head, *(transform(s, rename) for s in span[1:])]

    def _measure(self, stmt, indent: int) -> tuple[int, int]:
        """(lines the layout will give stmt, as many as it has now where it cannot do better; its width on one
        line, at most), remembered: a statement is measured against every temporary before it."""
        return remembered(f"measure at {indent}", stmt, lambda: _measured(stmt, indent))

    def _dead_after(self, name: str, small, definition, stmt, rest: list, scope: str, counts) -> bool:
        """Whether nothing reads name's value after stmt (which reads it once)."""
        if type(small) is cst.Return or (type(small) is cst.Assign and bound_names(small.targets[0])[name]):
            return True
        for later in rest:
            if name not in name_counts(later):
                continue
            later_small = only_small(later)
            return _assigned_name(later_small) == name and name not in name_counts(later_small.value)  # rebound first
        if scope == "body":
            return True
        return counts()[name] == name_counts(definition)[name] + name_counts(stmt)[name]  # inside a loop or branch

    def _join(self, done: list, stmt, indent: int, counts):
        """(index in done of the statement that joins stmt, the joined statement), or None. Cheap tests first:
        this runs on every statement."""
        small = only_small(stmt)
        if type(small) is cst.Return and small.value is not None:
            names = _tuple_names(small.value)
            if names:  # `a, b = f(x)` then `return a, b`
                last = only_small(done[-1]) if done else None
                if (type(last) is cst.Assign and len(last.targets) == 1 and _tuple_names(last.targets[0].target) == names
                        and len(set(names)) == len(names)):
                    return self._fit(done, len(done) - 1, stmt, small.with_changes(value=last.value), indent)
                return None
            name = _head(small.value)
        elif type(small) is cst.Assign and len(small.targets) == 1:
            name = _assigned_name(small)
            if type(small.value) is cst.Name and small.value.value != name:  # `b = a`: a must be read only here
                name = small.value.value if counts()[small.value.value] == 2 else None
            elif name is None or _head(small.value) != name:
                return None
        else:
            return None
        if name is None:
            return None
        index = next((i for i in range(len(done) - 1, -1, -1) if _assigned_name(only_small(done[i])) == name), None)
        if index is None or name_counts(small.value)[name] != 1:
            return None
        first = only_small(done[index])
        if index + 1 < len(done) and not _movable_past(done[index + 1:], name, set(name_counts(first.value))):
            return None
        if type(small.value) is cst.Name:  # `return a`, `b = a`: the value moves as it is
            merged = stmt.with_changes(body=[small.with_changes(value=first.value)])
            if len(_lead(small)) <= len(_lead(first)):  # wrapped as it was, behind a lead no longer: a line saved
                return index, merged
            return (index, merged) if _fits(merged, indent) else None
        if type(first.value) not in PRIMARY:
            return None
        return self._fit(done, index, stmt, small.with_changes(value=_with_head(small.value, name, first.value)), indent)

    @staticmethod
    def _fit(done: list, index: int, stmt, small, indent: int):
        merged = stmt.with_changes(body=[small])
        return (index, merged) if _fits(merged, indent) else None

