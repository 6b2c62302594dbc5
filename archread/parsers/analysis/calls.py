"""The module's call graph: which definitions each call reaches, and which definitions something unresolved may
reach (kept in a table, passed as a value, called through `getattr`): those a rewrite must leave as they are.

Calls are resolved inside the module: a function by name, `self.x(...)` through the class `self.x` was built
from, a loop over `self.layers` through the ModuleList's class, `C(...)` to `C.__init__`. The model's roots
are called from outside, with the token ids by position (`HARNESS`)."""

from __future__ import annotations

from collections import defaultdict

import libcst as cst

from archread.parsers.analysis.classes import Family, roots
from archread.parsers.analysis.nodes import dotted, is_self_attr
from archread.parsers.fastcst import remembered, walk

_CALLABLE_DECORATORS = {"staticmethod", "classmethod"}


def positional_params(fn: cst.FunctionDef) -> list[cst.Param]:
    return [*fn.params.posonly_params, *fn.params.params]


class CallGraph:
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
            for fn in self.methods(cls):
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
                    if isinstance(found, cst.FunctionDef) and method == "forward" and _needs_more_than_tokens(found):
                        self.escaped.add(id(found))  # a VLM's root (pixel_values, input_ids, image_flags): its own API
                    elif isinstance(found, cst.FunctionDef):
                        self.sites[id(found)].append((HARNESS, 1))
        for fn in self.functions.values():
            self._scan_body(fn, None)
        for cls_name, cls in self.classes.items():
            for fn in self.methods(cls):
                self._scan_body(fn, cls_name)
        self._escape_references(module)
        for cls_name, cls in self.classes.items():
            escaped_class = cls_name in self._escaped_classes or any(
                self.family.find(c) == self.family.find(cls_name) for c in self._escaped_classes
            )
            for fn in self.methods(cls):
                if escaped_class or fn.name.value in self._escaped_methods:
                    self.escaped.add(id(fn))
        for name in self._escaped_functions:
            self.escaped.add(id(self.functions[name]))

    @staticmethod
    def methods(cls: cst.ClassDef) -> list[cst.FunctionDef]:
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
                params = positional_params(defs[0])
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


HARNESS = cst.Call(func=cst.Name("model"), args=[cst.Arg(cst.Name("input_ids"))])


def _needs_more_than_tokens(forward: cst.FunctionDef) -> bool:
    """A root forward that cannot be called with the token ids alone: a parameter besides the first it must be
    given, or its `input_ids` not first (InternVL's `forward(self, pixel_values, input_ids=None, image_flags=None)`)."""
    params = [p for p in forward.params.params if p.name.value != "self"]
    return any(p.default is None for p in params[1:]) or any(p.name.value == "input_ids" for p in params[1:])


def filled_by_position(module: cst.Module) -> set[tuple[str, str]]:
    """(function, parameter) pairs that some call in the module may fill by position. A call through a
    module (`self.compressor(x, None, ...)`, `layer(...)`) may reach any class's forward. Every knock-out
    pass asks about the same module: remembered inside a reduction."""
    return remembered("filled_by_position", module, lambda: _filled_by_position(module))


def _filled_by_position(module: cst.Module) -> set[tuple[str, str]]:
    defined: dict[str, list[list[str]]] = {}
    classes = {s.name.value for s in module.body if isinstance(s, cst.ClassDef)}
    calls, submodules = [], set()  # submodules: `self.x = SomeLocalClass(...)` (or a list of them)
    for n in walk(module):  # one walk for all three; exact types (libcst's ABC isinstance is slow)
        kind = type(n)
        if kind is cst.FunctionDef:
            params = [p.name.value for p in n.params.params if p.name.value != "self"]
            if any(dotted(d.decorator) == "classmethod" for d in n.decorators):  # `cls` is bound, not passed
                params = params[1:]
            defined.setdefault(n.name.value, []).append(params)
        elif kind is cst.Call:
            calls.append(n)
        elif kind is cst.Assign and len(n.targets) == 1 and dotted(n.targets[0].target).startswith("self."):
            if any(type(v) is cst.Name and v.value in classes for v in walk(n.value)):
                submodules.add(n.targets[0].target.attr.value)
    found = set()
    for call in calls:
        callee = dotted(call.func)
        name = callee.rsplit(".", 1)[-1]
        if name in classes:  # `LLaDASequentialBlock(layer_id, config, cache)`: its __init__, any class's
            name = "__init__"
        elif name not in defined and (isinstance(call.func, cst.Name) or (callee.startswith("self.") and name in submodules)):
            name = "forward"
        count = sum(1 for a in call.args if a.keyword is None and a.star == "")
        for names in defined.get(name, []):
            found.update((name, p) for p in names[:count])
    return found
