"""How a layer wires its parts: residual (sequential or parallel) and where the norms sit.

The layer's forward is read in evaluation order as events (norm, attention, mlp calls and residual adds),
each with the variable its input comes from; a class that only wraps parts (`DbrxNormAttentionNorm`) is read
through, its parameters bound to what the caller passed.
"""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import parts
from archread.parsers.facts.syntax import EMPTY, calls, config_field, is_self, kwarg, line, names, self_call_attr, walk

EVENT_KINDS = {"norm": "norm", "attention": "attention", "mixer": "attention", "mlp": "mlp", "moe": "mlp"}


def statements(c: Code, fn: ast.FunctionDef | None, owner: str | None) -> list[ast.stmt]:
    """The statements of fn in order, an `if self.X:` on a config flag replaced by the branch its default takes."""
    attrs = c.attrs(owner)
    out = []

    def walk_body(body):
        for stmt in body:
            if isinstance(stmt, ast.If):
                value = c.flag(stmt.test, attrs)
                walk_body(stmt.body if value is None or value else stmt.orelse)
            else:
                out.append(stmt)
    walk_body(fn.body if fn else [])
    return out


def events(c: Code, layer: str | None):
    """(kind, attr, input root, line) in evaluation order (an add's third item: the roots of its terms), the roots
    holding attention output and the roots holding a norm's output."""
    version: dict[str, int] = {}
    found: list[tuple] = []
    outputs: set = set()
    normed: set = set()
    same: dict = {}  # a root assigned from a plain name (`residual = hidden_states`) -> that name's root
    kinds = {p.attr: p.kind for p in parts(c, layer, into=())}
    has_mlp = any(k in ("mlp", "moe") for k in kinds.values())

    def run(cls, fn, alias, depth):
        local_kinds = {p.attr: (p.kind, p.cls) for p in parts(c, cls, into=())}

        def root(expr):
            if isinstance(expr, ast.Call) and expr.args:
                return root(expr.args[0])
            if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and not self_call_attr(expr):
                return root(expr.func.value)  # x.to(dtype), x.float()
            if isinstance(expr, ast.Name):
                if expr.id in alias and expr.id not in version:
                    return alias[expr.id]
                key = (expr.id, version.get(expr.id, 0), depth)
                return same.get(key, key)
            return None

        def terms(node) -> frozenset:
            """The roots a sum adds up, through scalings and casts; a sublayer's call is its own term, not its input."""
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult, ast.Div)):
                return terms(node.left) | terms(node.right)
            if isinstance(node, ast.Name):
                return frozenset({root(node)})
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not self_call_attr(node):
                return terms(node.func.value)  # x.to(dtype)
            return frozenset()

        def visit(node):
            if isinstance(node, ast.Call):
                for a in node.args + [k.value for k in node.keywords]:
                    visit(a)
                attr = self_call_attr(node)
                kind, built = local_kinds.get(attr, (None, None)) if attr else (None, None)
                arg = node.args[0] if node.args else kwarg(node, "hidden_states")
                if kind == "module" and depth < 3 and c.method(built, "forward") is not None:
                    inner = c.method(built, "forward")
                    params = [a.arg for a in inner.args.args[1:]]
                    bound = {p: root(a) for p, a in zip(params, node.args)}
                    bound.update({k.arg: root(k.value) for k in node.keywords if k.arg})
                    run(built, inner, bound, depth + 1)
                    return
                if kind == "linear" and not has_mlp and cls == layer and any(e[0] == "attention" for e in found) \
                        and not any(e[0] == "mlp" for e in found):
                    kind = "mlp"  # OPT, GPT-2's style: the feed-forward's projections sit in the layer itself
                if kind in EVENT_KINDS:  # the fifth item: the input is a plain variable, not a call's result
                    found.append((EVENT_KINDS[kind], attr, root(arg) if arg is not None else None, node.lineno,
                                  isinstance(arg, ast.Name)))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                visit(node.left)
                visit(node.right)
                if len([n for n in walk(node) if isinstance(n, ast.Name)]) >= 2:
                    found.append(("add", None, terms(node), node.lineno, False))
            else:
                for child in ast.iter_child_nodes(node):
                    visit(child)

        for stmt in statements(c, fn, cls):
            before = len(found)
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
                visit(stmt.value)
                found.append(("add", None, terms(stmt.target) | terms(stmt.value), stmt.lineno, False))
            else:
                visit(stmt.value if isinstance(stmt, (ast.Assign, ast.Return, ast.Expr)) else stmt)
            copied = root(stmt.value) if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) else None
            is_norm = isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and found[before:] \
                and found[-1][0] == "norm"
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AugAssign) else []
            for target in targets:
                for n in walk(target):
                    if isinstance(n, ast.Name):
                        version[n.id] = version.get(n.id, 0) + 1
                        key = (n.id, version[n.id], depth)
                        if copied is not None:
                            same[key] = copied
                        if is_norm:
                            normed.add(key)
                        if any(e[0] == "attention" for e in found[before:]):
                            outputs.add(key)
    run(layer, c.method(layer, "forward"), {}, 0)
    return found, outputs, normed


def block_facts(c: Code, layer: str | None) -> list[Fact]:
    found, attn_outputs, normed = events(c, layer)
    attn = next((e for e in found if e[0] == "attention"), None)
    mlp = next((e for e in found if e[0] == "mlp"), None)
    out = []
    if attn and mlp:
        parallel = attn[2] is not None and attn[2] == mlp[2]
        out.append(Fact("block.residual", "parallel" if parallel else "sequential", mlp[3]))
    if attn:
        i = found.index(attn)
        pre = any(e[0] == "norm" for e in found[:i])
        after = []
        for e in found[i + 1:]:
            if e[0] in ("add", "mlp"):
                break
            after.append(e)
        # a norm of the attention's output that the MLP reads directly is the MLP's own pre-norm (BLOOM adds the
        # residual inside its attention), not a second norm around the attention
        post = any(e[0] == "norm" and e[2] in attn_outputs and not (mlp and mlp[2] == e[2]) for e in after)
        if not pre:
            post = post or any(e[0] == "norm" for e in found[i + 1:]) or _norms_a_sum(c, layer)
        stop = found[i + 1 + len(after)] if i + 1 + len(after) < len(found) else None  # the first add or mlp
        if pre and not post and stop and stop[0] == "add" and attn[4] and attn[2] in normed and attn[2] in stop[2]:
            # the normed value the attention reads is also the term added back: the norm sits on the residual
            # stream itself (`h = norm(h); h = h * a + attn(h) * b`), which is post-norm moved one step
            pre, post = False, True
        placement = "sandwich" if pre and post else "post" if post else "pre"
        out.append(Fact("block.norm_placement", placement, attn[3]))
    scaled = any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div))
                 and any(t in names(n) for t in ("residual_multiplier", "residual_scale", "resid_scale"))
                 for n in walk(c.method(layer, "forward") or EMPTY)) or _sum_of_scaled(c, layer)
    out.append(Fact("residual.scale", scaled, line(c.method(layer, "forward"))))
    return out


def _norms_a_sum(c: Code, layer: str | None) -> bool:
    """A post-norm kept inside the attention's output module: `LayerNorm(dense(h) + input)` (BERT)."""
    for p in parts(c, layer, into=("module", "attention")):
        if p.kind != "norm":
            continue
        fn = c.method(p.owner, "forward")
        for call in calls(fn or EMPTY):
            if self_call_attr(call) == p.attr and call.args and isinstance(call.args[0], ast.BinOp) \
                    and isinstance(call.args[0].op, ast.Add):
                return True
    return False


def _sum_of_scaled(c: Code, layer: str | None) -> bool:
    """A residual sum whose terms the configuration scales: `residual * self.alpha + h * self.beta` with
    self.alpha = config.X (MiniMax), `residual + h * self.residual_multiplier` (Granite)."""
    attrs = c.attrs(layer)

    def configured(node) -> bool:
        return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)) and any(
            isinstance(side, ast.Attribute) and is_self(side.value) and config_field(attrs.get(side.attr)) is not None
            for side in (node.left, node.right)))

    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) and (configured(n.left) or configured(n.right))
               for n in walk(c.method(layer, "forward") or EMPTY))
