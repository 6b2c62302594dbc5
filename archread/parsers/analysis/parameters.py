"""What a signature no longer needs, read off the call graph: parameters nothing reads, `**kwargs` only
forwarded where nothing reads it, keyword arguments no callee reads, parameters every call leaves None and
parameters no call leaves None. The signatures pass rewrites what this finds."""

from __future__ import annotations

from collections import defaultdict

import libcst as cst

from archread.parsers.analysis.calls import HARNESS, CallGraph, positional_params
from archread.parsers.analysis.names import bound_names, name_counts, names_in, read_on_entry
from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import remembered, walk


def _is_none(node) -> bool:
    return type(node) is cst.Name and node.value == "None"


def _positional(call: cst.Call) -> int:
    return sum(1 for a in call.args if a.keyword is None and not a.star)


def _last_positional(call: cst.Call) -> cst.CSTNode:
    return [a for a in call.args if a.keyword is None and not a.star][-1].value


def none_test(node: cst.CSTNode, names: set[str]) -> bool | None:
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
            and none_test(n, {n.left.value}) is not None}


def _pure(node: cst.CSTNode) -> bool:
    """An argument value that computes nothing that could matter when dropped."""
    return not any(isinstance(n, (cst.Call, cst.Await, cst.Yield, cst.NamedExpr)) for n in walk(node))


class ParameterPlan:
    """What to drop: keyword arguments at calls, parameters and `**kwargs` in definitions."""

    def __init__(self, graph: CallGraph, defs: list[cst.FunctionDef]):
        self.graph = graph
        self.defs = {id(d): d for d in defs if id(d) not in graph.escaped}
        self.params: set[tuple[int, str]] = set()  # (id(def), parameter) to drop
        self.kwargs: set[int] = set()  # ids of defs whose `**kwargs` goes
        self.args: dict[int, set[str]] = defaultdict(set)  # id(call) -> keywords to drop ('**': the splat)
        self.positional: dict[int, int] = {}  # id(call) -> index of a last positional argument to drop
        self.nones: set[tuple[int, str]] = set()  # (id(def), parameter) that is None at every call
        self.given: set[tuple[int, str]] = set()  # (id(def), parameter) that no call leaves None, tested for None
        self.flags: dict[tuple[int, str], str] = {}  # (id(def), parameter) defaulting to True/False no call fills -> it
        self._splat_cache: dict[int, list[cst.Call] | None] = {}

    def _named(self, fn: cst.FunctionDef) -> set[str]:
        return {p.name.value for p in (*positional_params(fn), *fn.params.kwonly_params)}

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
        self._unfilled_flags()
        return bool(self.params or self.kwargs or self.nones or self.given or self.flags)

    def _unfilled_flags(self) -> None:
        """Parameters defaulting to True or False that no call fills (`apply_rotary_pos_emb(…, fast=False)` beside
        a fused kernel): the default is the value wherever read, so the branch it picks folds. The root's stay:
        its caller is the user."""
        unresolved = [self.graph.calls[c] for c, defs in self.graph.targets.items() if defs is None]
        for fn_id, fn in self.defs.items():
            sites = self._sites(fn)
            if not sites or any(call is HARNESS or self._may_fill_any(call) for call, _ in sites):
                continue
            # a call not resolved may reach it (`self.transformer.wte(h, True)`, a module's forward through two
            # attributes): it counts as a site, its receiver as the implicit first argument
            name_of = fn.name.value
            sites = sites + [(call, 1) for call in unresolved if name_of == "forward" or dotted(call.func).split(".")[-1] == name_of]
            for index, param in enumerate(positional_params(fn)):
                name, default = param.name.value, param.default
                if not (type(default) is cst.Name and default.value in ("True", "False") and self._reads(fn, name)):
                    continue
                if all(implicit + _positional(call) <= index and not any(a.star or (
                        a.keyword is not None and a.keyword.value == name) for a in call.args) for call, implicit in sites):
                    self.flags[(fn_id, name)] = default.value

    def _unread_params(self) -> None:
        """Parameters nothing reads and no call fills by position; dropped only where every call can follow."""
        for fn_id, fn in self.defs.items():
            sites = self._sites(fn)
            if any(a.star == "*" for call, _ in sites for a in call.args):
                continue
            counts = [implicit + _positional(call) for call, implicit in sites]
            params = positional_params(fn)
            first = 1 if id(fn) in self.graph.owner and id(fn) not in self.graph.static else 0
            for index, param in enumerate(params[first:], start=first):
                name = param.name.value
                passed = [count > index or any(a.keyword is not None and a.keyword.value == name for a in call.args) for (call, _), count in zip(sites, counts)]
                # filled by position only as the last positional argument of a real call: that argument goes too
                fits = all(
                    count <= index or (
                        count == index + 1 and index >= implicit and call is not HARNESS and _pure(_last_positional(call))
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
            for index, param in enumerate(positional_params(fn)):
                root = any(call is HARNESS for call, _ in sites)
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
                for index, param in enumerate(positional_params(fn)):
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
        if call is HARNESS:
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
