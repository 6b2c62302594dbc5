"""An index of a reduced module for the fact readers: its classes, what their `__init__` assigns, config defaults.

Plain `ast`: facts read a few hundred lines of already-reduced code, where libcst's metadata would cost more
than the whole reading.
"""

from __future__ import annotations

import ast
from pathlib import Path

from archread.parsers.components import role_of
from archread.parsers.config_defaults import Default
from archread.parsers.facts.syntax import config_field, dotted, is_self, walk
from archread.parsers.mro import local_mro

Choice = tuple[ast.expr, str]  # an expression and the condition under which it is the one chosen ("" always)


class Code:
    """Index of the reduced module: classes, their __init__ attribute constructors, functions."""

    def __init__(self, code: str, config: dict[str, Default]):
        self.tree = ast.parse(code)
        self.config = config
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.functions = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef)}
        self.bases = {name: [dotted(b) for b in c.bases] for name, c in self.classes.items()}
        self.globals = {t.id: n.value for n in self.tree.body if isinstance(n, ast.Assign)
                        for t in n.targets if isinstance(t, ast.Name)}
        self._attrs: dict[str | None, tuple[dict, dict]] = {}

    def method(self, cls: str | None, name: str) -> ast.FunctionDef | None:
        """cls's method, or the one it inherits from a class here (Python looks in the first base first)."""
        owner = self.definer(cls, name)
        return next(m for m in self.classes[owner].body if isinstance(m, ast.FunctionDef) and m.name == name) if owner else None

    def definer(self, cls: str | None, name: str) -> str | None:
        """The class here whose method `name` cls runs: cls itself or a base, in Python's lookup order."""
        if cls not in self.classes:
            return None
        return next((c for c in local_mro(self.bases, cls)
                     if any(isinstance(m, ast.FunctionDef) and m.name == name for m in self.classes[c].body)), None)

    def ancestors(self, cls: str) -> list[str]:
        """Every base name cls reaches, through the module's own classes: ['FalconLinear', 'nn.Linear']."""
        out, todo = [], [cls]
        while todo:
            name = todo.pop(0)
            for b in self.bases.get(name, []):
                if b not in out:
                    out.append(b)
                    todo.append(b)
        return out

    def base(self, cls: str) -> str | None:
        bases = self.classes[cls].bases
        return dotted(bases[0]) if bases and dotted(bases[0]) in self.classes else None

    def attrs(self, cls: str | None) -> dict[str, ast.expr]:
        """self.X = <expr> in __init__ (the last assignment wins), through the branches config defaults take."""
        return self._read(cls)[0]

    def choices(self, cls: str | None) -> dict[str, list[Choice]]:
        """self.X's alternatives where __init__ chooses by a condition the defaults do not settle (per layer)."""
        return self._read(cls)[1]

    def _read(self, cls):
        if cls in self._attrs:
            return self._attrs[cls]
        out: dict[str, ast.expr] = {}
        alts: dict[str, list[Choice]] = {}
        self._attrs[cls] = (out, alts)  # a class built on itself (bad input) stops here

        def assign(key, value, when):
            if isinstance(value, ast.IfExp) and self.flag(value.test, out) is None:
                cond = ast.unparse(value.test)
                alts[key] = [*self._alternatives(value.body, cond, when), *self._alternatives(value.orelse, f"not ({cond})", when)]
            elif when:
                alts.setdefault(key, []).append((value, when))
            out[key] = self.fold(value, out)

        def walk_body(body, when=""):
            for stmt in body:
                if isinstance(stmt, ast.If):
                    value = self.flag(stmt.test, out)
                    if value is None and stmt.orelse:  # a per-layer choice: both branches, each with its condition
                        cond = ast.unparse(stmt.test)
                        walk_body(stmt.body, _and(when, cond))
                        walk_body(stmt.orelse, _and(when, f"not ({cond})"))
                    else:
                        walk_body(stmt.body if value is None or value else stmt.orelse, when)
                    continue
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                    for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                        if isinstance(target, ast.Attribute) and is_self(target.value):
                            assign(target.attr, stmt.value, when)
                        elif isinstance(target, ast.Name):  # locals, for what a self.X is built from
                            assign(f"local:{target.id}", stmt.value, when)
                        elif config_field(target):  # config.X = … (Gemma 4.41 fills in its activation)
                            out[f"config:{config_field(target)}"] = stmt.value
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.stmt):
                        walk_body([child], when)
        init = self.method(cls, "__init__")
        base = self.base(cls) if cls in self.classes else None
        if base and init is not None and init in self.classes[cls].body and any(  # `super().__init__(…)` runs the base's first
                isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "__init__"
                and isinstance(n.func.value, ast.Call) and dotted(n.func.value.func) == "super" and not n.func.value.args
                for n in walk(init)):
            parent, parent_alts = self._read(base)
            out.update(parent)
            alts.update(parent_alts)
        if init is not None:  # a flag parameter's default settles `X if is_cross_attention else Y`
            args = [*init.args.posonlyargs, *init.args.args]
            for arg, default in zip(args[len(args) - len(init.args.defaults):], init.args.defaults):
                if isinstance(default, ast.Constant) and isinstance(default.value, bool):
                    out[f"param:{arg.arg}"] = default
        walk_body(init.body if init else [])
        return out, alts

    def _alternatives(self, expr, cond, when) -> list[Choice]:
        return [(expr, _and(when, cond))]

    def fold(self, expr: ast.expr, attrs: dict) -> ast.expr:
        """`A if flag else B` with a flag the defaults settle → the branch taken."""
        if isinstance(expr, ast.IfExp):
            value = self.flag(expr.test, attrs)
            if value is not None:
                return self.fold(expr.body if value else expr.orelse, attrs)
        return expr

    def flag(self, test: ast.expr, attrs: dict[str, ast.expr]):
        """The default value of an `if` test on a config flag (self.X set from config, or config.X), else None."""
        if isinstance(test, ast.Attribute) and is_self(test.value) and test.attr in attrs:
            return self.config_value(attrs[test.attr])
        if config_field(test):
            return self.config_value(test)
        if isinstance(test, ast.Name) and f"param:{test.id}" in attrs:
            return attrs[f"param:{test.id}"].value
        if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Is, ast.IsNot))
                and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
            field = config_field(test.left)
            if field in self.config:
                return (self.config[field].value is None) == isinstance(test.ops[0], ast.Is)
        if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.comparators[0], ast.Constant)
                and isinstance(test.comparators[0].value, (int, float)) and config_field(test.left) in self.config):
            # `config.num_local_experts > 0`: a switch the configuration's default settles, not a per-layer choice
            value, bound = self.config[config_field(test.left)].value, test.comparators[0].value
            ops = {ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b, ast.Lt: lambda a, b: a < b,
                   ast.LtE: lambda a, b: a <= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}
            op = ops.get(type(test.ops[0]))
            if op is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                return op(value, bound)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            value = self.flag(test.operand, attrs)
            return None if value is None else not value
        return None

    def by_role(self, role: str) -> list[str]:
        """Classes of a role, those no class here is built on first (a lent parent is a part of its child)."""
        based = {self.base(n) for n in self.classes}
        return sorted((n for n in self.classes if role_of(n, True) == role), key=lambda n: n in based)

    def config_value(self, node: ast.expr | None):
        """The default of config.X / self.config.X, a literal's value, or None."""
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value
        name = config_field(node)
        if name and name in self.config:
            return self.config[name].value
        return None

    def default(self, field: str) -> Default | None:
        """A configuration field's default, through the configuration's attribute_map (num_local_experts → n_routed_experts)."""
        if field in self.config:
            return self.config[field]
        return self.config.get(_attribute_map(self.config).get(field, ""))

    def resolve(self, expr: ast.expr | None, owner: str | None, depth: int = 0) -> ast.expr | None:
        """self.X and locals of owner's __init__ followed to the expression they were assigned."""
        while depth < 6 and expr is not None:
            attrs = self.attrs(owner)
            if isinstance(expr, ast.Attribute) and is_self(expr.value) and expr.attr in attrs:
                expr = attrs[expr.attr]
            elif isinstance(expr, ast.Name) and f"local:{expr.id}" in attrs:
                expr = attrs[f"local:{expr.id}"]
            else:
                break
            depth += 1
        return expr


def _and(a: str, b: str) -> str:
    return f"{a} and {b}" if a else b


def _attribute_map(config: dict[str, Default]) -> dict[str, str]:
    """The configuration class's `attribute_map`, read off the file its defaults came from."""
    where = next((d.where for d in config.values() if d.where), "")
    path = Path(where.rsplit(":", 1)[0]) if where else None
    if path is None or not path.is_file():
        return {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "attribute_map" for t in n.targets):
            try:
                value = ast.literal_eval(n.value)
            except (ValueError, SyntaxError):
                return {}
            return value if isinstance(value, dict) else {}
    return {}
