"""Signatures: pass-through `**kwargs`, parameters nothing reads, and the arguments that filled them.

Once the cache, output and backend plumbing is gone, many keywords only travel: `position_ids`
handed to an attention that forwards it into a `**kwargs` nobody reads, `dropout=0.0` to a
function that no longer reads `dropout`. Calls are resolved inside the module — a function by
name, `self.x(...)` through the class `self.x` was built from, a loop over `self.layers`
through the ModuleList's class, `C(...)` to `C.__init__` — and a function is changed only when
every call that can reach it is one of those. A class or function reachable any other way (kept
in a table, passed as a value, called through `getattr`) keeps its signature. The model's root is
called from outside with the token ids by position, so its first parameter stays.
"""

from __future__ import annotations

from collections import defaultdict

import libcst as cst

from archread.parsers.passes.base import (
    Family, LiteralsFrom, ReplaceReads, StripPass, Targeted, bound_names, dotted, is_self_attr, name_counts, names_in,
    read_on_entry, walk)
from archread.parsers.passes.dead_code import DeadCode, _drop_unread_locals, roots
from archread.parsers.passes.simplify import Simplify
from archread.parsers.fastcst import remembered, transform

_CALLABLE_DECORATORS = {"staticmethod", "classmethod"}


def _is_none(node) -> bool:
    return type(node) is cst.Name and node.value == "None"


def _params(fn: cst.FunctionDef) -> list[cst.Param]:
    return [*fn.params.posonly_params, *fn.params.params]


def _positional(call: cst.Call) -> int:
    return sum(1 for a in call.args if a.keyword is None and not a.star)


def _last_positional(call: cst.Call) -> cst.CSTNode:
    return [a for a in call.args if a.keyword is None and not a.star][-1].value


def _none_reads(body: list, names: set[str], mark) -> list:
    """Substitute up to (and in the test of) the first statement that assigns the name."""
    out, live = [], set(names)
    for stmt in body:
        if live:
            assigned = set(bound_names(stmt)) & live
            replace = ReplaceReads({n: lambda: mark(cst.Name("None")) for n in live})
            if isinstance(stmt, (cst.If, cst.While)):  # the tests read the value it came in with (the bodies are
                stmt = _replace_tests(stmt, replace)   # left alone: a branch may be dead by a test not folded here)
            elif not assigned:
                stmt = transform(stmt, replace)
            live -= assigned
        out.append(stmt)
    return out


def _replace_tests(stmt, replace: cst.CSTTransformer):
    """An `if` with the reads in its test and its `elif` tests replaced (`elif inputs_embeds is not None:`)."""
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):
        orelse = _replace_tests(orelse, replace)
    return stmt.with_changes(test=transform(stmt.test, replace), orelse=orelse)


def _none_test(node: cst.CSTNode, names: set[str]) -> bool | None:
    """True for `x is not None`, False for `x is None`, with x one of names; else None."""
    if type(node) is not cst.Comparison or len(node.comparisons) != 1 or type(node.left) is not cst.Name:
        return None
    test = node.comparisons[0]
    if node.left.value in names and _is_none(test.comparator) and type(test.operator) in (cst.Is, cst.IsNot):
        return type(test.operator) is cst.IsNot
    return None


def _none_tested(fn: cst.FunctionDef) -> set[str]:
    """The names the body compares with None (`x is None`, `x is not None`)."""
    return {n.left.value for n in walk(fn.body) if type(n) is cst.Comparison and type(n.left) is cst.Name
            and _none_test(n, {n.left.value}) is not None}


class _GivenTests(cst.CSTTransformer):
    """`x is not None` of a parameter no call leaves None becomes True (`x is None`: False), for Simplify."""

    def __init__(self, names: set[str], mark):
        super().__init__()
        self.names, self.mark = names, mark

    def leave_Comparison(self, original, updated):
        truth = _none_test(updated, self.names)
        return updated if truth is None else self.mark(cst.Name(str(truth)))


def _pure(node: cst.CSTNode) -> bool:
    """An argument value that computes nothing that could matter when dropped."""
    return not any(isinstance(n, (cst.Call, cst.Await, cst.Yield, cst.NamedExpr)) for n in walk(node))


class _Graph:
    """Which definitions each call reaches, and which definitions something unresolved might reach."""

    def __init__(self, module: cst.Module, root: str | None = None):
        self.root = root  # the model class a remote-code repo names; else roots() finds it
        self.functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
        self.classes = {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef)}
        self.family = Family(self.classes)
        self.owner: dict[int, str] = {}  # id(method) -> class name
        self.static: set[int] = set()  # ids of staticmethods (no implicit first argument)
        self.escaped: set[int] = set()  # ids of FunctionDefs something unresolved may call
        self.targets: dict[int, list[cst.FunctionDef] | None] = {}  # id(call) -> defs, None = unresolved
        self.sites: dict[int, list[tuple[cst.Call, int]]] = defaultdict(list)  # id(def) -> (call, implicit args)
        self.members: dict[str, set[str] | None] = {}  # family:attr -> classes built into it (None: unknown)
        self._escaped_classes: set[str] = set()
        self._escaped_methods: set[str] = set()
        self._escaped_functions: set[str] = set()
        self._paired: set[int] = set()  # ids of `self.layers` whose loop variable the calls resolve through
        self.calls: dict[int, cst.Call] = {}
        self.enclosing: dict[int, cst.FunctionDef] = {}  # id(call) -> the function it is in
        self._accounted: set[int] = set()  # ids of `C(...)` calls whose instance lands in a resolved attribute
        self._scan(module)

    # -- resolution helpers -------------------------------------------------------------

    def lookup(self, cls: str, name: str) -> cst.FunctionDef | None | bool:
        """The method `name` of class `cls` through local bases; False where it comes from outside."""
        seen = set()
        while cls in self.classes and cls not in seen:
            seen.add(cls)
            node = self.classes[cls]
            for stmt in node.body.body:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                    return stmt
            local = [dotted(b.value) for b in node.bases if dotted(b.value) in self.classes]
            if len(local) != 1 or len(node.bases) != 1:
                return None if not local and all(dotted(b.value) in ("nn.Module", "torch.nn.Module", "Module") for b in node.bases) else False
            cls = local[0]
        return False

    def _built(self, value: cst.CSTNode) -> set[str] | None:
        """Local classes whose instances `value` builds, for `self.x = value`; None when not resolvable."""
        if isinstance(value, cst.Call):
            name = dotted(value.func)
            if name in self.classes:
                self._accounted.add(id(value))
                return {name}
            if name.rsplit(".", 1)[-1] in ("ModuleList", "Sequential") and len(value.args) == 1 and not value.args[0].star:
                return self._built(value.args[0].value)
            return None if self._mentions(value) else set()
        if isinstance(value, (cst.List, cst.Tuple)):
            found: set[str] = set()
            for element in value.elements:
                inner = self._built(element.value) if not isinstance(element, cst.StarredElement) else None
                if inner is None:
                    return None
                found |= inner
            return found
        if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
            return self._built(value.elt) if not self._mentions(value.for_in) else None
        if isinstance(value, cst.IfExp):
            body, orelse = self._built(value.body), self._built(value.orelse)
            return None if body is None or orelse is None or self._mentions(value.test) else body | orelse
        return None if self._mentions(value) else set()

    def _mentions(self, node: cst.CSTNode) -> bool:
        return any(isinstance(n, cst.Name) and (n.value in self.classes or n.value in self.functions) for n in walk(node))

    # -- the scan -----------------------------------------------------------------------

    def _scan(self, module: cst.Module) -> None:
        for cls_name, cls in self.classes.items():
            for stmt in cls.body.body:
                if isinstance(stmt, cst.FunctionDef):
                    self.owner[id(stmt)] = cls_name
                    decorators = {dotted(d.decorator) for d in stmt.decorators}
                    if "staticmethod" in decorators:
                        self.static.add(id(stmt))
                    if decorators - _CALLABLE_DECORATORS:
                        self._escaped_methods.add(stmt.name.value)
            for fn in self._methods(cls):
                for node in walk(fn):
                    if type(node) is cst.Assign and len(node.targets) == 1 and is_self_attr(node.targets[0].target):
                        key = f"{self.family.find(cls_name)}:{node.targets[0].target.attr.value}"
                        built = self._built(node.value)
                        if key in self.members and (self.members[key] is None or built is None):
                            self.members[key] = None
                        else:
                            self.members[key] = (self.members.get(key) or set()) | built if built is not None else None
        for name in roots(module, self.root):
            if name in self.classes:  # built as root(config), called as root(input_ids): one positional argument
                for method in ("__init__", "forward"):
                    found = self.lookup(name, method)
                    if isinstance(found, cst.FunctionDef):
                        self.sites[id(found)].append((_HARNESS, 1))
        for fn in self.functions.values():
            self._scan_body(fn, None)
        for cls_name, cls in self.classes.items():
            for fn in self._methods(cls):
                self._scan_body(fn, cls_name)
        self._escape_references(module)
        for cls_name, cls in self.classes.items():
            escaped_class = cls_name in self._escaped_classes or any(
                self.family.find(c) == self.family.find(cls_name) for c in self._escaped_classes
            )
            for fn in self._methods(cls):
                if escaped_class or fn.name.value in self._escaped_methods:
                    self.escaped.add(id(fn))
        for name in self._escaped_functions:
            self.escaped.add(id(self.functions[name]))

    @staticmethod
    def _methods(cls: cst.ClassDef) -> list[cst.FunctionDef]:
        return [s for s in cls.body.body if isinstance(s, cst.FunctionDef)]

    def _attr_classes(self, cls: str | None, attr: str) -> set[str] | None:
        if cls is None:
            return None
        return self.members.get(f"{self.family.find(cls)}:{attr}", set())

    def _loop_vars(self, fn: cst.FunctionDef, cls: str | None) -> dict[str, set[str] | None]:
        """`for layer in self.layers` (also sliced, reversed, enumerated, zipped with other sequences): the
        loop variable is one of the built classes. A built attribute iterated any other way is a bare use
        (`_escape_bare_attributes`): what it holds escapes."""
        found: dict[str, set[str] | None] = {}
        sources: dict[str, list[int]] = defaultdict(list)

        def pair(target, source) -> None:
            if type(source) is cst.Subscript:
                source = source.value
            if type(source) is cst.Call and not any(a.star or (a.keyword and a.keyword.value != "strict") for a in source.args):
                name, args = dotted(source.func), [a.value for a in source.args if not a.keyword]
                elements = [e.value for e in target.elements] if type(target) in (cst.Tuple, cst.List) else None
                if name == "reversed" and len(args) == 1:
                    return pair(target, args[0])
                if name == "enumerate" and len(args) == 1 and elements is not None and len(elements) == 2:
                    return pair(elements[1], args[0])
                if name == "zip" and elements is not None and len(elements) == len(args):
                    for element, arg in zip(elements, args):
                        pair(element, arg)
                    return
            if is_self_attr(source) and type(target) is cst.Name:
                classes = self._attr_classes(cls, source.attr.value)
                found[target.value] = None if target.value in found else classes
                sources[target.value].append(id(source))

        for node in walk(fn):
            if type(node) is cst.For:
                pair(node.target, node.iter)
        self._paired.update(i for name, ids in sources.items() if found[name] is not None for i in ids)
        return found

    def _resolve(self, call: cst.Call, cls: str | None, loops: dict) -> tuple[list[cst.FunctionDef] | None, int]:
        """(definitions, implicit leading arguments); (None, 0) when unresolved."""
        func = call.func
        if isinstance(func, cst.Name):
            if func.value in self.functions:
                return [self.functions[func.value]], 0
            if func.value in self.classes:
                init = self.lookup(func.value, "__init__")
                return ([init], 1) if isinstance(init, cst.FunctionDef) else (None, 0)
            if func.value in loops and loops[func.value] is not None:
                return self._forwards(loops[func.value]), 1
            return None, 0
        if isinstance(func, cst.Attribute) and cls is not None:
            owner = func.value
            if isinstance(owner, cst.Call) and dotted(owner.func) == "super":
                local = [dotted(b.value) for b in self.classes[cls].bases if dotted(b.value) in self.classes]
                if not local:
                    return [], 1  # nn.Module's own
                found = self.lookup(local[0], func.attr.value) if len(self.classes[cls].bases) == 1 else False
                return ([found], 1) if isinstance(found, cst.FunctionDef) else (None, 0)
            if isinstance(owner, cst.Name) and owner.value == "self":
                name = func.attr.value
                methods = [self.lookup(c, name) for c in self.classes if self.family.find(c) == self.family.find(cls)]
                defs = [d for d in methods if isinstance(d, cst.FunctionDef)]
                if defs:
                    implicit = 0 if all(id(d) in self.static for d in defs) else 1
                    return (defs, implicit) if len({id(d) in self.static for d in defs}) == 1 else (None, 0)
                classes = self._attr_classes(cls, name)
                if classes is not None and not any(isinstance(d, cst.FunctionDef) for d in methods):
                    return self._forwards(classes), 1
        return None, 0

    def _forwards(self, classes: set[str]) -> list[cst.FunctionDef] | None:
        found = [self.lookup(c, "forward") for c in sorted(classes)]
        return None if any(not isinstance(f, cst.FunctionDef) for f in found) else found

    def _scan_body(self, fn: cst.FunctionDef, cls: str | None) -> None:
        loops = self._loop_vars(fn, cls)
        for node in walk(fn):
            if type(node) is cst.Call:
                self.calls[id(node)] = node
                self.enclosing[id(node)] = fn
                defs, implicit = self._resolve(node, cls, loops)
                self.targets[id(node)] = defs
                for d in defs or ():
                    self.sites[id(d)].append((node, implicit))
                if defs is None and isinstance(node.func, cst.Attribute) and not (
                    isinstance(node.func.value, cst.Name) and node.func.value.value == "self"
                ):
                    self._escaped_methods.add(node.func.attr.value)  # obj.m(...): any class's m
                self._escape_passed_self(node, defs, cls)

    def _escape_passed_self(self, call: cst.Call, defs, cls: str | None) -> None:
        """`f(self, ...)`: fine when f only reads attributes of it; anything else may call it."""
        for position, arg in enumerate(call.args):
            if not (isinstance(arg.value, cst.Name) and arg.value.value == "self") or cls is None:
                continue
            if defs and len(defs) == 1 and id(defs[0]) not in self.owner and arg.keyword is None and not arg.star:
                params = _params(defs[0])
                if position < len(params) and self._attribute_only(defs[0], params[position].name.value):
                    continue
            self._escaped_classes.add(cls)
            for key, classes in self.members.items():  # getattr(self, ...) may reach any submodule
                if key.startswith(f"{self.family.find(cls)}:") and classes:
                    self._escaped_classes.update(classes)

    def _attribute_only(self, fn: cst.FunctionDef, name: str) -> bool:
        for node in walk(fn):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == name:
                return False
            if isinstance(node, cst.Call) and any(isinstance(a.value, cst.Name) and a.value.value == name for a in node.args):
                return False
            if isinstance(node, (cst.Assign, cst.Return)) and isinstance(node.value, cst.Name) and node.value.value == name:
                return False
        return True

    def _escape_references(self, module: cst.Module) -> None:
        """Local names used other than as a resolved call, a base class or a built attribute escape."""
        allowed: set[int] = set()
        everything = [n for stmt in module.body for n in walk(stmt)]
        for node in everything:  # exact types, as in is_self_attr
            kind = type(node)
            if kind is cst.ClassDef or kind is cst.FunctionDef:
                allowed.add(id(node.name))
            if kind is cst.ClassDef:
                allowed.update(id(b.value) for b in node.bases)
            elif kind is cst.Call and type(node.func) is cst.Name:
                name = node.func.value
                if name in self.functions or (name in self.classes and id(node) in self._accounted):
                    allowed.add(id(node.func))
            elif kind is cst.Attribute:
                allowed.add(id(node.attr))
            elif kind is cst.Arg and node.keyword is not None:
                allowed.add(id(node.keyword))
        for node in everything:
            if type(node) is cst.Name and id(node) not in allowed:
                if node.value in self.classes:
                    self._escaped_classes.add(node.value)
                elif node.value in self.functions:
                    self._escaped_functions.add(node.value)
        self._escape_bare_attributes()

    def _escape_bare_attributes(self) -> None:
        """`layer = self.layers[0]`, `f(self.mlp)`: the submodule may be called from anywhere."""
        for cls_name, cls in self.classes.items():
            fine: set[int] = set()
            for node in walk(cls):
                kind = type(node)  # exact types, as in is_self_attr
                if kind is cst.Call:
                    fine.add(id(node.func))
                    if dotted(node.func) == "len":
                        fine.update(id(a.value) for a in node.args)
                elif kind is cst.Attribute:
                    fine.add(id(node.value))  # self.x.y: reads an attribute of the submodule
                elif kind is cst.AssignTarget:
                    fine.add(id(node.target))
                elif kind is cst.Comparison:  # `self.x is None`
                    fine.update(id(n) for n in (node.left, *(c.comparator for c in node.comparisons)))
            for node in walk(cls):
                if is_self_attr(node) and id(node) not in fine and id(node) not in self._paired:
                    self._escaped_methods.add(node.attr.value)  # a bound method handed around
                    classes = self._attr_classes(cls_name, node.attr.value)
                    if classes:
                        self._escaped_classes.update(classes)


_HARNESS = cst.Call(func=cst.Name("model"), args=[cst.Arg(cst.Name("input_ids"))])


class _Plan:
    """What to drop: keyword arguments at calls, parameters and `**kwargs` in definitions."""

    def __init__(self, graph: _Graph, defs: list[cst.FunctionDef]):
        self.graph = graph
        self.defs = {id(d): d for d in defs if id(d) not in graph.escaped}
        self.params: set[tuple[int, str]] = set()  # (id(def), parameter) to drop
        self.kwargs: set[int] = set()  # ids of defs whose `**kwargs` goes
        self.args: dict[int, set[str]] = defaultdict(set)  # id(call) -> keywords to drop ('**': the splat)
        self.positional: dict[int, int] = {}  # id(call) -> index of a last positional argument to drop
        self.nones: set[tuple[int, str]] = set()  # (id(def), parameter) that is None at every call
        self.given: set[tuple[int, str]] = set()  # (id(def), parameter) that no call leaves None, tested for None
        self._splat_cache: dict[int, list[cst.Call] | None] = {}

    def _named(self, fn: cst.FunctionDef) -> set[str]:
        return {p.name.value for p in (*_params(fn), *fn.params.kwonly_params)}

    def _reads(self, fn: cst.FunctionDef, name: str) -> int:
        return name_counts(fn.body)[name]

    def _read_on_entry(self, fn: cst.FunctionDef, name: str) -> bool:
        """Whether the body reads the value the parameter came in with, not only one it assigns first."""
        return read_on_entry(name, ((s, names_in(s)) for s in fn.body.body))

    def _splats(self, fn: cst.FunctionDef) -> list[cst.Call] | None:
        """The calls `**kwargs` is forwarded into, or None if it is missing or read any other way."""
        if id(fn) in self._splat_cache:
            return self._splat_cache[id(fn)]
        star = fn.params.star_kwarg
        into = None
        if isinstance(star, cst.Param):
            name = star.name.value
            into = [
                n for n in walk(fn) if isinstance(n, cst.Call)
                and any(a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == name for a in n.args)
            ]
            into = into if len(into) == self._reads(fn, name) else None
        self._splat_cache[id(fn)] = into
        return into

    def consumed(self, fn: cst.FunctionDef, keyword: str, seen: frozenset = frozenset()) -> bool:
        """Whether a keyword handed to fn can still affect anything."""
        if id(fn) not in self.defs or id(fn) in seen:
            return True
        if keyword in self._named(fn):
            return (id(fn), keyword) not in self.params
        splats = self._splats(fn)
        if splats is None:
            return True
        return any(
            self.graph.targets.get(id(call)) is None
            or any(self.consumed(d, keyword, seen | {id(fn)}) for d in self.graph.targets[id(call)])
            for call in splats
        )

    def _sites(self, fn: cst.FunctionDef) -> list[tuple[cst.Call, int]]:
        return self.graph.sites.get(id(fn), [])

    def build(self) -> bool:
        self._unread_params()
        for call_id, defs in self.graph.targets.items():
            if defs and all(id(d) in self.defs for d in defs):
                for arg in self.graph.calls[call_id].args:
                    if arg.keyword is not None and _pure(arg.value) and not any(self.consumed(d, arg.keyword.value) for d in defs):
                        self.args[call_id].add(arg.keyword.value)
        self._pass_through_kwargs()
        self._always_none()
        self._given()
        return bool(self.params or self.kwargs or self.nones or self.given)

    def _unread_params(self) -> None:
        """Parameters nothing reads and no call fills by position; dropped only where every call can follow."""
        for fn_id, fn in self.defs.items():
            sites = self._sites(fn)
            if any(a.star == "*" for call, _ in sites for a in call.args):
                continue
            counts = [implicit + _positional(call) for call, implicit in sites]
            params = _params(fn)
            first = 1 if id(fn) in self.graph.owner and id(fn) not in self.graph.static else 0
            for index, param in enumerate(params[first:], start=first):
                name = param.name.value
                passed = [count > index or any(a.keyword is not None and a.keyword.value == name for a in call.args) for (call, _), count in zip(sites, counts)]
                # filled by position only as the last positional argument of a real call: that argument goes too
                fits = all(
                    count <= index or (
                        count == index + 1 and index >= implicit and call is not _HARNESS and _pure(_last_positional(call))
                        and len(self.graph.targets.get(id(call)) or ()) == 1  # no other definition reads that position
                    )
                    for (call, implicit), count in zip(sites, counts)
                )
                impure = any(a.keyword is not None and a.keyword.value == name and not _pure(a.value) for call, _ in sites for a in call.args)
                if fits and not impure and not self._read_on_entry(fn, name) and (param.default is not None or all(passed)):
                    self.params.add((fn_id, name))
                    for (call, implicit), count in zip(sites, counts):
                        if count == index + 1:
                            self.positional[id(call)] = count - implicit - 1
        changed = True
        while changed:  # a call reaching several definitions keeps a keyword any of them reads
            changed = False
            for fn_id, name in sorted(self.params):
                for call, _ in self._sites(self.defs[fn_id]):
                    if any(a.keyword is not None and a.keyword.value == name for a in call.args) and any(
                        self.consumed(d, name) for d in self.graph.targets.get(id(call)) or () if id(d) != fn_id
                    ):
                        self.params.discard((fn_id, name))
                        changed = True
                        break

    def _always_none(self) -> None:
        """Parameters defaulting to None that no call fills: the model's root gets only the token ids,
        and what it does not get, the modules below it do not get either. A root's masks stay."""
        for fn_id, fn in self.defs.items():
            sites = self._sites(fn)
            if any(self._may_fill_any(call) for call, _ in sites):
                continue
            for index, param in enumerate(_params(fn)):
                root = any(call is _HARNESS for call, _ in sites)
                if _is_none(param.default) and sites and not (root and "mask" in param.name.value):
                    if all(implicit + _positional(call) <= index for call, implicit in sites):
                        self.nones.add((fn_id, param.name.value))
        changed = True
        while changed:
            changed = False
            for fn_id, name in sorted(self.nones):
                for call, _ in self._sites(self.defs[fn_id]):
                    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
                    if value is None or _is_none(value):
                        continue
                    caller = self.graph.enclosing.get(id(call))
                    if isinstance(value, cst.Name) and caller is not None and (id(caller), value.value) in self.nones:
                        if not bound_names(caller.body)[value.value]:
                            continue
                    self.nones.discard((fn_id, name))
                    changed = True
                    break

    def _given(self) -> None:
        """Parameters no call leaves None: the root's token ids (the harness passes them), and a parameter
        every call fills with a given parameter of its caller (`self.model(input_ids=input_ids)`). Kept only
        where the body tests one for None, which then folds (4.3x `if input_ids is not None:`)."""
        given: set[tuple[int, str]] = set()
        changed = True
        while changed:
            changed = False
            for fn_id, fn in self.defs.items():
                sites = self._sites(fn)
                for index, param in enumerate(_params(fn)):
                    key = (fn_id, param.name.value)
                    if sites and key not in given and not self._rebound(fn, key[1]) and all(
                            self._gives(call, implicit, index, key[1], given) for call, implicit in sites):
                        given.add(key)
                        changed = True
        def tested(fn: cst.FunctionDef) -> set[str]:  # remembered across rounds while fn is unchanged
            return remembered("none_tested", fn, lambda: _none_tested(fn))

        self.given = {(i, name) for i, name in given if name in tested(self.defs[i])}

    def _rebound(self, fn: cst.FunctionDef, name: str) -> bool:
        """Bound again in the body, or in a function whose lambda parameter may shadow it."""
        if bound_names(fn.body)[name]:
            return True
        return remembered("lambda", fn, lambda: any(type(n) is cst.Lambda for n in walk(fn)))

    def _gives(self, call: cst.Call, implicit: int, index: int, name: str, given: set) -> bool:
        """Whether the call fills parameter `name` (at index) with a value that is not None."""
        if call is _HARNESS:
            return index == implicit
        if any(a.star for a in call.args):
            return False
        positional = [a.value for a in call.args if a.keyword is None]
        value = positional[index - implicit] if 0 <= index - implicit < len(positional) else next(
            (a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
        caller = self.graph.enclosing.get(id(call))
        return (type(value) is cst.Name and caller is not None and (id(caller), value.value) in given
                and not self._rebound(caller, value.value))

    def _may_fill_any(self, call: cst.Call) -> bool:
        """`f(*args)` may fill any parameter, and `f(**kwargs)` any keyword, unless that `**kwargs` is one
        this plan drops (nothing but named parameters reach it)."""
        for a in call.args:
            if a.star == "*":
                return True
            if a.star == "**" and id(self.graph.enclosing.get(id(call))) not in self.kwargs:
                return True
        return False

    def _pass_through_kwargs(self) -> None:
        """`**kwargs` only forwarded goes where every call passes nothing but named parameters."""
        candidates = {fn_id for fn_id, fn in self.defs.items() if self._splats(fn) is not None}
        changed = True
        while changed:
            changed = False
            for fn_id in sorted(candidates):
                fn = self.defs[fn_id]
                named = {n for n in self._named(fn) if (fn_id, n) not in self.params}
                for call, _ in self._sites(fn):
                    dropped = self.args.get(id(call), set())
                    kept = [a for a in call.args if a.keyword is not None and a.keyword.value not in dropped]
                    splat_kept = any(a.star == "**" for a in call.args) and id(self.graph.enclosing.get(id(call))) not in candidates
                    if splat_kept or any(a.keyword.value not in named for a in kept):
                        candidates.discard(fn_id)
                        changed = True
                        break
        for fn_id in candidates:
            self.kwargs.add(fn_id)
            for call in self._splats(self.defs[fn_id]):
                self.args[id(call)].add("**")


class _Apply(Targeted):
    def __init__(self, plan: _Plan, mark):
        super().__init__()
        self.plan, self.mark = plan, mark
        defs = {i for i, _ in (*plan.params, *plan.nones, *plan.given)} | plan.kwargs
        self.targets = {*plan.args, *plan.positional, *defs}

    def leave_Call(self, original, updated):
        drop = self.plan.args.get(id(original), set())
        last = self.plan.positional.get(id(original))
        if not drop and last is None:
            return updated
        positional = [a for a in updated.args if a.keyword is None and not a.star]
        gone = {id(positional[last])} if last is not None else set()
        args = [
            a for a in updated.args
            if id(a) not in gone and not ((a.keyword is not None and a.keyword.value in drop) or (a.star == "**" and "**" in drop))
        ]
        if args and len(args) < len(updated.args):
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=args)

    def leave_FunctionDef(self, original, updated):
        key = id(original)
        nones = {n for fn_id, n in self.plan.nones if fn_id == key}
        if nones:
            body = _none_reads(list(updated.body.body), nones, self.mark)
            updated = updated.with_changes(body=updated.body.with_changes(body=body))
        given = {n for fn_id, n in self.plan.given if fn_id == key}
        if given:
            updated = updated.with_changes(body=transform(updated.body, _GivenTests(given, self.mark)))
        names = {n for fn_id, n in self.plan.params if fn_id == key}
        if not names and key not in self.plan.kwargs:
            return updated
        params = updated.params
        params = params.with_changes(
            params=[p for p in params.params if p.name.value not in names],
            kwonly_params=[p for p in params.kwonly_params if p.name.value not in names],
            star_kwarg=None if key in self.plan.kwargs else params.star_kwarg,
        )
        if not params.kwonly_params and isinstance(params.star_arg, cst.ParamStar):
            params = params.with_changes(star_arg=cst.MaybeSentinel.DEFAULT)
        if params.star_kwarg is None and not params.kwonly_params:  # no trailing comma on what is now last
            if isinstance(params.star_arg, cst.Param):
                params = params.with_changes(star_arg=params.star_arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            elif params.params:
                params = params.with_changes(params=[*params.params[:-1], params.params[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        return updated.with_changes(params=params)


class Signatures(StripPass):
    NAME = "signatures"
    DESCRIPTION = "Pass-through **kwargs and parameters no callee reads, with the arguments that filled them."
    STRIP = [(
        "class AAttention(nn.Module):\n    def forward(self, x, position_ids=None, **kwargs):\n        return f(x, **kwargs)\n"
        "def f(x, dropout=0.0, **kwargs):\n    return x\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x, **kwargs):\n        return self.attn(x, position_ids=x, dropout=0.0, **kwargs)\n",
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return f(x)\n\n\ndef f(x):\n    return x\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n\n"
        "    def forward(self, x):\n        return self.attn(x)\n",
    ), (  # the root gets only the token ids: what it is not given is None, and folds where it is tested
        "class AModel(nn.Module):\n    def forward(self, x, past_key_values=None):\n        kv = past_key_values.self_attention_cache"
        " if isinstance(past_key_values, EncoderDecoderCache) else past_key_values\n        return g(x, kv)\n",
        "class AModel(nn.Module):\n    def forward(self, x):\n        kv = None\n        return g(x, kv)\n",
    ), (  # the branch that would read through the None only raises: the other is the value
        "class AModel(nn.Module):\n    def forward(self, input_ids, inputs_embeds=None):\n"
        "        device = input_ids.device if input_ids is not None else inputs_embeds.device\n        return g(input_ids, device)\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids):\n        device = input_ids.device\n"
        "        return g(input_ids, device)\n",
    ), (  # a device no call passes: the move it asks for is none
        "class ARotary(nn.Module):\n    def __init__(self, dim, device=None):\n        super().__init__()\n"
        "        self.inv_freq = torch.arange(dim).float().to(device)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.rope = ARotary(4)\n"
        "    def forward(self, x):\n        return x * self.rope.inv_freq\n",
        "class ARotary(nn.Module):\n    def __init__(self, dim):\n        super().__init__()\n"
        "        self.inv_freq = torch.arange(dim).float()\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.rope = ARotary(4)\n\n"
        "    def forward(self, x):\n        return x * self.rope.inv_freq\n",
    )]
    STRIP += [(  # the root gets its token ids, and so does the model it hands them to (4.3x)
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            n = input_ids.shape[1]\n        return input_ids * n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids=input_ids)\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        n = input_ids.shape[1]\n"
        "        return input_ids * n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids=input_ids)\n",
    )]
    STRIP += [(  # a layer reached through `zip` (5.25 Ergo's `zip(config.layer_types, self.layers)`): the keyword it only
        # forwarded into a `**kwargs` goes at the call with it
        "class ALayer(nn.Module):\n    def forward(self, x, **kwargs):\n        return self.attn(x, **kwargs)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x, kinds):\n        for kind, layer in zip(kinds, self.layers, strict=True):\n"
        "            x = layer(x, position_ids=x)\n        return x\n",
        "class ALayer(nn.Module):\n    def forward(self, x):\n        return self.attn(x)\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x, kinds):\n        for kind, layer in zip(kinds, self.layers, strict=True):\n"
        "            x = layer(x)\n        return x\n",
    )]
    KEEP = [
        # another caller may leave it None; and a parameter rebound before its test is another value
        # layers iterated in a way not followed: whatever calls them may pass anything into `**kwargs`
        "class ALayer(nn.Module):\n    def forward(self, x, **kwargs):\n        return self.attn(x, **kwargs)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x):\n        for layer, kind in reversed(list(zip(self.layers, KINDS))):\n"
        "            x = layer(x, position_ids=x)\n        return x\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            return input_ids\n        return 0\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids) + self.model()\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, input_ids=None):\n        input_ids = self.pick(input_ids)\n"
        "        if input_ids is None:\n            return 0\n        return input_ids\n",
        "TABLE = {'a': AAttention}\nclass AAttention(nn.Module):\n    def forward(self, x, position_ids=None, **kwargs):\n        return x\n",
        "def f(x, **kwargs):\n    return kwargs.get('scale', 1) * x\n",
        # what `*args` carries is unknown: the decoder's input_ids is not None at every call
        "class ADecoder(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            return input_ids\n        return 0\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.decoder = ADecoder()\n\n    def forward(self, *args):\n        return self.decoder(*args)\n",
    ]

    def leave_Module(self, original, updated):
        dead = DeadCode(self.ctx)
        for _ in range(4):  # a parameter dropped can leave its caller's parameter unread
            graph = _Graph(updated, self.ctx.root)
            defs = [*graph.functions.values(), *(f for c in graph.classes.values() for f in graph._methods(c))]
            plan = _Plan(graph, defs)
            if not plan.build():
                self.ctx.call_graph = (updated, graph)  # the module as this pass leaves it: `returns` starts here
                break
            touched = {id(graph.enclosing[c]) for c in (*plan.args, *plan.positional) if c in graph.enclosing}
            touched |= {i for i, _ in plan.params} | {i for i, _ in (*plan.nones, *plan.given)} | plan.kwargs
            apply = _Apply(plan, lambda node: self.ctx.mark(node, self.NAME))
            fold = Simplify(LiteralsFrom(self.ctx, self.NAME, ("None",)))

            def redo(fn: cst.FunctionDef) -> cst.FunctionDef:
                if id(fn) not in touched:
                    return fn
                new = transform(fn, apply)
                if any(i == id(fn) for i, _ in (*plan.nones, *plan.given)):  # `if inputs_embeds is None:` reads `if None is None:`
                    new = transform(new, fold)
                return _drop_unread_locals(new, dead)  # what the dropped arguments carried may be unread now

            updated = rewrite_defs(updated, touched, redo)
        return updated


def rewrite_defs(module: cst.Module, touched: set[int], redo) -> cst.Module:
    """The module with redo applied to its functions and methods; classes holding none of the touched
    definitions (ids) are left as they are."""
    body = []
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef):
            stmt = redo(stmt)
        elif isinstance(stmt, cst.ClassDef) and any(id(s) in touched for s in stmt.body.body):
            stmt = stmt.with_changes(body=stmt.body.with_changes(
                body=[redo(s) if isinstance(s, cst.FunctionDef) else s for s in stmt.body.body]))
        body.append(stmt)
    return module.with_changes(body=body)
