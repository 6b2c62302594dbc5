"""Where the code keeps float32 before a sensitive step, and what it computes with autocast switched off.

Autocast plumbing (`with maybe_autocast(..., enabled=False)`, `torch.autocast(enabled=False)`, a helper that
casts its arguments only under autocast) is folded to one fact: the component runs in its input's dtype
whatever autocast says — what a reader needs to know, not code to read.
"""

from __future__ import annotations

import ast

from archread.parsers.components import role_of
from archread.parsers.facts.branches import reached_calls
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.norms import layer_norm_part
from archread.parsers.facts.syntax import calls, dotted, kwarg, leaf, names, walk

AUTOCAST = ("autocast", "maybe_autocast")


def precision_facts(c: Code, layer: str | None, folded: list[str] = ()) -> list[Fact]:
    """`folded`: Class.method whose autocast-off block the reduction folded to its body (what it meant is kept here)."""
    out = []
    rotary = next(iter(c.by_role("rotary")), None)
    off = autocast_off(c) + [(name.split(".")[0], c.classes[name.split(".")[0]].lineno) for name in folded
                             if _runs(c, name)]
    if rotary in c.classes:
        # the angles in float32: cast in forward, a table built in float32 at init, or autocast kept off
        own = [c.classes[k] for k in [rotary, *c.ancestors(rotary)] if k in c.classes]  # inherited methods too
        upcast = any(_casts_to_float32(n) for k in own for n in _reached(c, k)) or rotary in dict(off)
        out.append(Fact("precision.rope_float32", upcast, c.classes[rotary].lineno,
                        "" if upcast else "frequencies and positions multiplied in the activation dtype"))
    part = layer_norm_part(c, layer)
    norm = part.cls if part else None
    if c.definer(norm, "forward"):
        cls = c.classes[c.definer(norm, "forward")]
        order = None
        for n in walk(cls):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and "weight" in names(n):
                other = n.right if "weight" in names(n.left) else n.left
                if any(dotted(k.func).endswith((".to", ".type_as")) for k in _reached(c, other)):
                    order = "cast_then_weight"  # Llama: weight * x.to(input_dtype)
                else:
                    order = order or "weight_in_float32"  # Gemma: (x * (1 + w.float())).type_as(x)
        if order:
            out.append(Fact("precision.norm_weight", order, cls.lineno))
    soft = [(n, _enclosing(c, n)) for a in c.by_role("attention") for n in reached_calls(c, a) if leaf(n.func) == "softmax"]
    if not soft:  # no attention class to start from: every softmax of the module's functions
        soft = [(n, fn) for fn in c.functions.values() for n in calls(fn) if leaf(n.func) == "softmax"]
    guarded = {id(k) for fn in {id(f): f for _, f in soft if f is not None}.values() for n in walk(fn)
               if isinstance(n, ast.If) and _tests_half(n.test) for stmt in n.body for k in walk(stmt)}
    if any(id(n) not in guarded for n, _ in soft):  # XGLM: float32 only `if attn_weights.dtype == torch.float16`
        soft = [(n, fn) for n, fn in soft if id(n) not in guarded]
    if soft:
        fp32 = any(_in_float32(c, n, fn) for n, fn in soft)
        out.append(Fact("precision.softmax_float32", fp32, soft[0][0].lineno))
    lm = c.method(next(iter(c.by_role("lm head")), None), "forward")
    if lm is not None:
        up = any(dotted(n.func).endswith(".float") for n in calls(lm))
        out.append(Fact("precision.logits_float32", up, lm.lineno))
    off = [(name, at) for name, at in off if name != rotary]  # the rotary's own is its rope_float32
    roles = sorted({role_of(name, True) for name, _ in off})  # the component, not its model's name for it
    out.append(Fact("precision.autocast_off", ", ".join(roles) or "none", off[0][1] if off else None,
                    ("computed with autocast disabled, in the dtype its inputs arrive in: " +
                     ", ".join(name for name, _ in off)) if off else ""))
    return out


def _tests_half(test) -> bool:
    """`x.dtype == torch.float16`: a branch only half precision takes (bfloat16 and float32 run the other)."""
    return any(isinstance(n, ast.Attribute) and n.attr in ("float16", "half") for n in walk(test)) and \
        any(isinstance(n, ast.Attribute) and n.attr == "dtype" for n in walk(test))


def _in_float32(c: Code, call: ast.Call, fn: ast.FunctionDef, depth: int = 0) -> bool:
    """softmax(x, dtype=float32), softmax(x.float()), or x computed from float32 operands earlier in fn
    (GPT-J: `attn_weights = matmul(query.to(torch.float32), key.to(torch.float32)...)`)."""
    if any(_casts_to_float32(k) for k in [call, *calls(call)]):
        return True
    upcast: set[str] = set()
    half_only = {id(k) for n in walk(fn) if isinstance(n, ast.If) and _tests_half(n.test) for s in n.body for k in walk(s)}
    for stmt in ast.walk(fn):
        if isinstance(stmt, ast.Assign) and stmt.lineno < call.lineno and id(stmt) not in half_only and (
                any(_casts_to_float32(k) for k in calls(stmt.value)) or names(stmt.value) & upcast
                or dotted(stmt.value) in ("torch.float32", "torch.float")):  # softmax_dtype = torch.float32
            upcast |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    if call.args and names(call.args[0]) & upcast:
        return True
    # softmax(x.to(dtype)) with dtype a parameter: float32 where a caller passes it (GPT-BigCode's upcast_softmax)
    params = {a.arg for a in fn.args.args}
    cast_to = {n.id for k in calls(call) if dotted(k.func).endswith(".to") for a in k.args for n in walk(a)
               if isinstance(n, ast.Name) and n.id in params}
    return bool(cast_to) and depth < 2 and any(_passes_float32(c, fn, p, depth) for p in cast_to)


def _passes_float32(c: Code, fn: ast.FunctionDef, param: str, depth: int) -> bool:
    names_of = [a.arg for a in fn.args.args]
    for caller in [*c.functions.values(), *(m for k in c.classes.values() for m in k.body if isinstance(m, ast.FunctionDef))]:
        for site in calls(caller):
            if dotted(site.func) == fn.name and names_of.index(param) < len(site.args):
                given = site.args[names_of.index(param)]
                probe = ast.Call(func=ast.Name("softmax"), args=[given], keywords=[], lineno=site.lineno, col_offset=0)
                if _in_float32(c, probe, caller, depth + 1):
                    return True
    return False


def _runs(c: Code, where: str) -> bool:
    """Class.method runs on the path the class's forward takes with its defaults (GPT-2's reordered-upcast
    attention, off by default, does not)."""
    cls, _, method = where.partition(".")
    if cls not in c.classes:
        return False
    return method in ("", "forward") or any(dotted(k.func) == f"self.{method}" for k in reached_calls(c, cls))


def _enclosing(c: Code, call: ast.Call) -> ast.FunctionDef:
    """The function or method whose body holds call."""
    for fn in [*c.functions.values(), *(m for k in c.classes.values() for m in k.body if isinstance(m, ast.FunctionDef))]:
        if call in walk(fn):
            return fn
    return ast.FunctionDef(name="", args=ast.arguments([], [], None, [], [], None, []), body=[], decorator_list=[])


def _casts_to_float32(call: ast.Call) -> bool:
    """x.float(), x.to(torch.float32), dtype=torch.float: not Python's float() of a scalar."""
    if dotted(call.func).endswith(".float"):
        return True
    return any(isinstance(n, ast.Attribute) and n.attr in ("float32", "float") and dotted(n.value) == "torch"
               or isinstance(n, ast.Name) and n.id == "float32"
               for a in [*call.args, *(k.value for k in call.keywords)] for n in walk(a))


def _reached(c: Code, node: ast.AST) -> list[ast.Call]:
    """The calls of node and of the module functions it calls (GPT-J's create_sinusoidal_positions)."""
    found = calls(node)
    for call in list(found):
        fn = c.functions.get(dotted(call.func))
        if fn is not None:
            found += calls(fn)
    return found


def autocast_off(c: Code) -> list[tuple[str, int]]:
    """Classes whose forward runs a block under `autocast(enabled=False)`."""
    found = []
    for name, cls in c.classes.items():
        for node in walk(cls):
            if isinstance(node, ast.With) and any(
                    isinstance(item.context_expr, ast.Call) and leaf(item.context_expr.func) in AUTOCAST
                    and isinstance(kwarg(item.context_expr, "enabled"), ast.Constant)
                    and kwarg(item.context_expr, "enabled").value is False for item in node.items):
                found.append((name, node.lineno))
                break
    return found
