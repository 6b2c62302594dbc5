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
dead afterwards names it h from the start. Helper methods run once are inlined by `inline_helpers` and
`inline_statics`, which report as `inline` too.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from archread.parsers.analysis.expressions import PRIMARY, effect_free, read_site, replaced
from archread.parsers.analysis.layout import WIDTH, Flatten, height, joined
from archread.parsers.analysis.names import bound_names, name_counts
from archread.parsers.analysis.nodes import BLOCKS, SCOPED, only_small, sole_target
from archread.parsers.analysis.rewrite import ReplaceReads
from archread.parsers.fastcst import code_of, remembered, transform, walk
from archread.parsers.passes.base import StripPass


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
    ]

    def leave_Module(self, original, updated):
        return updated.with_changes(body=self._block(updated.body, 0, Counter, None))

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
        if kind in (cst.ClassDef, cst.FunctionDef) or kind in BLOCKS:
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
        if any(a in name_counts(s) or any(type(n) in SCOPED for n in walk(s)) for s in span) \
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

