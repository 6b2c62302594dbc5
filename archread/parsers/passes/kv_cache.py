"""KV cache: the reduced model runs one full sequence, so no cache is read or written."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.classes import Family, torch_families
from archread.parsers.analysis.nodes import call_of, dotted
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

CACHE_NAMES = {
    "past_key_value": None, "past_key_values": None, "layer_past": None, "cache": None,
    "cache_params": None, "use_cache": False, "past_key_values_length": 0,
}


class KVCache(Knockout):
    NAME = "kv_cache"
    DESCRIPTION = "past_key_value(s), cache.update, use_cache, cache_position and the cache classes."
    NAMES = CACHE_NAMES
    STRIP = [(
        "def f(self, k, v, past_key_value=None, use_cache=False):\n"
        "    if past_key_value is not None:\n        k, v = past_key_value.update(k, v, self.i)\n"
        "    present = (k, v) if use_cache else None\n    return k, v, present\n",
        "def f(self, k, v):\n    present = None\n    return k, v, present\n",
    )]
    STRIP += [(  # a helper reading the cache length: its calls lose the keyword, so it reads the fixed 0 (4.3x bloom)
        "def mask(shape, past_key_values_length):\n    return torch.ones(shape[1], shape[1] + past_key_values_length)\n"
        "def f(self, x, past_key_values_length=0):\n    return mask(x.shape, past_key_values_length=past_key_values_length)\n",
        "def mask(shape):\n    return torch.ones(shape[1], shape[1])\ndef f(self, x):\n    return mask(x.shape)\n",
    )]
    STRIP += [(  # 4.3x–4.4x bloom/falcon: one empty cache entry per layer, zipped with the layers
        "def f(self, h, past_key_values=None):\n    if past_key_values is None:\n"
        "        past_key_values = tuple([None] * len(self.h))\n    n = 0\n    if past_key_values[0] is not None:\n"
        "        n = past_key_values[0][0].shape[2]\n"
        "    for i, (block, layer_past) in enumerate(zip(self.h, past_key_values)):\n        h = block(h, layer_past, i)\n"
        "    return h * n\n",
        "def f(self, h):\n    n = 0\n    for i, block in enumerate(self.h):\n        h = block(h, None, i)\n    return h * n\n",
    )]
    KEEP = ["def f(self, k, v):\n    return k, v\n",
            # a module built with a `cache` holds it (LLaDA's BufferCache of rotary tables): state, no KV cache
            "class Rope(nn.Module):\n    def __init__(self, cache):\n        super().__init__()\n        self.c = cache\n"
            "def build(cache):\n    return Rope(cache)\n",
            "def f(self, h, caches):\n    for block, c in zip(self.h, caches):\n        h = block(h, c)\n    return h\n"]

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self._held = _held(node)
        self._kept_args: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._active[-1] -= self._held.get(id(node), set())

    def leave_FunctionDef(self, original, updated):
        self._positional |= {(original.name.value, p) for p in self._held.get(id(original), ())}  # it stays
        return super().leave_FunctionDef(original, updated)

    def visit_Call(self, node: cst.Call) -> None:
        """`Rope(cache=cache)` of a module built with it: the keyword stays."""
        held = self._held.get(dotted(node.func).rsplit(".", 1)[-1], ())
        self._kept_args |= {id(a) for a in node.args if a.keyword is not None and a.keyword.value in held}

    def leave_Arg(self, original, updated):
        return updated if id(original) in self._kept_args else super().leave_Arg(original, updated)

    def leave_Assign(self, original, updated):
        """`past_key_values = tuple([None] * n)`: still nothing cached, entry by entry."""
        target = updated.targets[0].target if len(updated.targets) == 1 else None
        if type(target) is cst.Name and self._knocked(target.value) and self.NAMES[target.value] is None and _nones(updated.value):
            return self.removed(original)
        return super().leave_Assign(original, updated)

    def leave_Subscript(self, original, updated):
        """`past_key_values[0] is not None`: an entry of no cache is none either."""
        if id(original) in self._tests and type(updated.value) is cst.Name and self._knocked(updated.value.value) \
                and self.NAMES[updated.value.value] is None:
            return self._const(None)
        return updated

    def leave_For(self, original, updated):
        """`for block, layer_past in zip(self.h, <no cache>)`: the layers alone (enumerated if they were)."""
        it, target = updated.iter, updated.target
        counted = call_of(it, "enumerate") and type(target) is cst.Tuple and len(target.elements) == 2
        inner, pair = (it.args[0].value, target.elements[1].value) if counted else (it, target)
        if not (call_of(inner, "zip") and len(inner.args) == 2 and type(pair) is cst.Tuple and len(pair.elements) == 2):
            return updated
        cache, name = inner.args[1].value, pair.elements[1].value
        if not (self.ctx.origin_of(cache) == self.NAME and type(name) is cst.Name and name.value in self.NAMES):
            return updated  # the second list must be no cache, and its entry a name this pass fixes too
        layers, layer = inner.args[0].value, pair.elements[0].value
        if counted:
            it = it.with_changes(args=[it.args[0].with_changes(value=layers)])
            target = target.with_changes(elements=[target.elements[0], target.elements[1].with_changes(value=layer)])
            return updated.with_changes(iter=it, target=target)
        return updated.with_changes(iter=layers, target=layer)


def _nones(value) -> bool:
    """`[None] * n`, `(None,) * n`, `tuple([None] * n)`: a container holding only None."""
    if call_of(value, "tuple") and len(value.args) == 1:
        value = value.args[0].value
    if type(value) is not cst.BinaryOperation or type(value.operator) is not cst.Multiply:
        return False
    box = value.left
    return type(box) in (cst.List, cst.Tuple) and len(box.elements) > 0 and all(
        type(e.value) is cst.Name and e.value.value == "None" for e in box.elements)


def _held(module: cst.Module) -> dict[str | int, set[str]]:
    """What a torch module is built with is its state, never a per-call KV cache (LLaDA hands its blocks a
    `cache`, a dict of rotary tables): the cache names each module class's `__init__` takes, and in turn those
    each function passes on to a builder of one (LLaDA's `LLaDABlock.build`). Keyed by the builder's name
    (for its calls) and by the id of its definition (for its body)."""
    names = {n for n, v in CACHE_NAMES.items() if v is None}
    classes = {s.name.value: s for s in module.body if type(s) is cst.ClassDef}
    family = Family(classes)
    torch = torch_families(classes, family)
    held: dict[str | int, set[str]] = {}
    for name, cls in classes.items():
        init = next((s for s in cls.body.body if type(s) is cst.FunctionDef and s.name.value == "__init__"), None)
        taken = {p.name.value for p in init.params.params + init.params.kwonly_params} & names if init else set()
        if taken and family.find(name) in torch:
            held[name], held[id(init)] = taken, taken
    functions = [n for n in walk(module) if type(n) is cst.FunctionDef]
    changed = bool(held)
    while changed:
        changed = False
        for fn in functions:
            params = {p.name.value for p in fn.params.params + fn.params.kwonly_params} & names
            passed = set()
            for call in (n for n in walk(fn.body) if type(n) is cst.Call):
                takes = held.get(dotted(call.func).rsplit(".", 1)[-1], set())
                passed |= {a.value.value for a in call.args if type(a.value) is cst.Name and a.value.value in params
                           and (a.keyword is None or a.keyword.value in takes)} if takes else set()
            if passed - held.get(id(fn), set()):
                held[id(fn)] = held.get(id(fn), set()) | passed
                held[fn.name.value] = held.get(fn.name.value, set()) | passed
                changed = True
    return held
