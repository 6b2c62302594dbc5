"""Architecture facts, read from a reduced module's code and its configuration's defaults.

Nothing here knows a model by name: every fact comes from how the code computes (which norm class the
decoder layer builds and what its forward does, where norms sit around the attention call, whether the
MLP multiplies an activation by a second projection, ...), with the configuration's default deciding
what the code leaves to the config (`ACT2FN[config.hidden_act]`, `if self.use_parallel_residual:`).
Each fact carries the line of the reduced source it was read from, or the configuration file line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from archread.parsers.components import role_of
from archread.parsers.config_defaults import Default
from archread.parsers.mro import local_mro

ACT_NAMES = {"swish": "silu", "silu": "silu", "gelu": "gelu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh",
             "gelu_fast": "gelu_tanh", "gelu_python": "gelu", "relu": "relu", "relu2": "relu2", "relu_squared": "relu2",
             "gelu_tanh": "gelu_tanh", "tanh": "tanh", "sigmoid": "sigmoid", "quick_gelu": "quick_gelu"}
HEAD_SIZE = {"head_dim", "head_size", "attention_head_size", "kv_channels", "hidden_size_per_attention_head"}


@dataclass(frozen=True)
class Fact:
    key: str
    value: object
    line: int | None  # line in the reduced source
    where: str = ""  # where a config-derived value came from (configuration file:line), or a note

    def to_json(self) -> dict:
        return {"key": self.key, "value": self.value, "line": self.line, "where": self.where}


class _Code:
    """Index of the reduced module: classes, their __init__ attribute constructors, functions."""

    def __init__(self, code: str, config: dict[str, Default]):
        self.tree = ast.parse(code)
        self.config = config
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.functions = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef)}
        self.bases = {name: [_dotted(b) for b in c.bases] for name, c in self.classes.items()}

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

    def base(self, cls: str) -> str | None:
        bases = self.classes[cls].bases
        return _dotted(bases[0]) if bases and _dotted(bases[0]) in self.classes else None

    def attrs(self, cls: str | None) -> dict[str, ast.expr]:
        """self.X = <expr> in __init__ (the last assignment wins), through the branches config defaults take."""
        out: dict[str, ast.expr] = {}

        def walk(body):
            for stmt in body:
                if isinstance(stmt, ast.If):
                    value = self.flag(stmt.test, out)
                    walk(stmt.body if value is None or value else stmt.orelse)
                    continue
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if isinstance(target, ast.Attribute) and _is_self(target.value):
                            out[target.attr] = stmt.value
                        elif isinstance(target, ast.Name):  # locals, for what a self.X is built from
                            out[f"local:{target.id}"] = stmt.value
                        elif _config_field(target):  # config.X = … (Gemma 4.41 fills in its activation)
                            out[f"config:{_config_field(target)}"] = stmt.value
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.stmt):
                        walk([child])
        init = self.method(cls, "__init__")
        base = self.base(cls) if cls in self.classes else None
        if base and init is not None and init in self.classes[cls].body and any(  # `super().__init__(…)` runs the base's first
                isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "__init__"
                and isinstance(n.func.value, ast.Call) and _dotted(n.func.value.func) == "super" and not n.func.value.args
                for n in ast.walk(init)):
            out.update(self.attrs(base))
        walk(init.body if init else [])
        return out

    def flag(self, test: ast.expr, attrs: dict[str, ast.expr]):
        """The default value of an `if` test on a config flag (self.X set from config, or config.X), else None."""
        if isinstance(test, ast.Attribute) and _is_self(test.value) and test.attr in attrs:
            return self.config_value(attrs[test.attr])
        if _config_field(test):
            return self.config_value(test)
        if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Is, ast.IsNot))
                and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
            field = _config_field(test.left)
            if field in self.config:
                return (self.config[field].value is None) == isinstance(test.ops[0], ast.Is)
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
        name = _config_field(node)
        if name and name in self.config:
            return self.config[name].value
        return None

    def constructed(self, expr: ast.expr | None) -> str | None:
        """The class a constructor expression builds: 'NemotronLayerNorm1P', 'nn.LayerNorm', 'nn.Linear'."""
        if isinstance(expr, ast.Call):
            return _dotted(expr.func)
        return None


def _is_self(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _config_field(node) -> str | None:
    """config.X, self.config.X, getattr(config, "X", …) → X."""
    if isinstance(node, ast.Attribute) and _dotted(node.value) in ("config", "self.config"):
        return node.attr
    if (isinstance(node, ast.Call) and _dotted(node.func) == "getattr" and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)):
        return node.args[1].value
    return None


def _calls(node) -> list[ast.Call]:
    """Calls in source order."""
    found = [n for n in _walk(node) if isinstance(n, ast.Call)] if node else []
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


_WALKS: dict[int, tuple[ast.AST, list[ast.AST]]] = {}  # id(node) -> (node, its nodes): facts ask of the same code often


def _walk(node: ast.AST) -> list[ast.AST]:
    """ast.walk's nodes in ast.walk's order (breadth first), listed once per node and remembered."""
    hit = _WALKS.get(id(node))
    if hit is None or hit[0] is not node:
        if len(_WALKS) > 4096:  # a long session diffs many files: keep the memo small
            _WALKS.clear()
        out = [node]
        for n in out:  # appended while iterated: breadth first
            for field in n._fields:
                value = getattr(n, field, None)
                if isinstance(value, list):
                    out.extend(v for v in value if isinstance(v, ast.AST))
                elif isinstance(value, ast.AST):
                    out.append(value)
        hit = _WALKS[id(node)] = (node, out)
    return hit[1]


def _names(node) -> set[str]:
    if not node:
        return set()
    return {n.id if isinstance(n, ast.Name) else n.attr for n in _walk(node) if isinstance(n, (ast.Name, ast.Attribute))}


def _self_call_attr(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) and _is_self(call.func.value) else None


def _kwarg(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _passed(call: ast.Call, fn: ast.FunctionDef | None, name: str, implicit: int = 0):
    """What the call gives fn's parameter `name`, by keyword or by position (a reading passes `softcap=softcap`
    positionally); implicit: the leading parameters the call does not fill (a method's self)."""
    value = _kwarg(call, name)
    params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)][implicit:] if fn else []
    if value is None and name in params and params.index(name) < len(call.args):
        value = call.args[params.index(name)]
    return None if isinstance(value, ast.Starred) else value


def _line(node) -> int | None:
    return getattr(node, "lineno", None)


# --- the facts -----------------------------------------------------------------------------------------

def facts(code: str, config: dict[str, Default] | None = None) -> list[Fact]:
    c = _Code(code, config or {})
    layer = _decoder_layer(c)
    out: list[Fact] = []
    out += _norm_facts(c, layer)
    out += _block_facts(c, layer)
    out += _attention_facts(c, layer)
    out += _position_facts(c)
    out += _mlp_facts(c, layer)
    out += _model_facts(c)
    out += _precision_facts(c, layer)
    return out


def _decoder_layer(c: _Code) -> str | None:
    """The class the model builds in its ModuleList of layers (else the decoder-layer role)."""
    for cls in c.by_role("model"):
        for node in _walk(c.method(cls, "__init__") or ast.Module(body=[], type_ignores=[])):
            if isinstance(node, ast.Call) and _dotted(node.func) in ("nn.ModuleList", "ModuleList") and node.args:
                built = [_dotted(n.func) for n in _calls(node.args[0]) if _dotted(n.func) in c.classes]
                if built:
                    return built[0]
    layers = c.by_role("decoder layer")
    return layers[0] if layers else None


def _role_attrs(c: _Code, cls: str | None) -> dict[str, tuple[str, str]]:
    """self.X = SomeClass(...) in cls.__init__ → {X: (class, role)}; nn.LayerNorm counts as a norm."""
    out = {}
    for attr, expr in c.attrs(cls).items():
        built = c.constructed(expr)
        if not built:
            continue
        leaf = built.rsplit(".", 1)[-1]
        role = role_of(leaf, True) if leaf in c.classes or leaf.endswith(("Norm", "LayerNorm")) else None
        if leaf in ("Linear", "Conv1D"):
            role = "linear"
        if role:
            out[attr] = (built, role)
    return out


def _norm_facts(c: _Code, layer: str | None) -> list[Fact]:
    norms = [(attr, built) for attr, (built, role) in _role_attrs(c, layer).items() if role == "norm"]
    if not norms:
        return [Fact("norm.kind", "other", None, "no norm in the decoder layer")]
    attr, built = norms[0]
    expr = c.attrs(layer)[attr]
    leaf = built.rsplit(".", 1)[-1]
    forward = c.method(leaf, "forward")
    if leaf in c.classes and forward is not None:
        body = c.classes[c.definer(leaf, "forward")]  # forward and the helpers it calls (Gemma's _norm)
        text_names = _names(body)
        calls = {_dotted(n.func).rsplit(".", 1)[-1] for n in _calls(body)}
        base = {_dotted(b) for b in c.classes[leaf].bases}
        if "layer_norm" in calls or ("forward" in calls and any("LayerNorm" in b for b in base)):
            kind = "layernorm"
        elif "rsqrt" in calls or ("mean" in calls and "pow" in calls) or "rms_norm" in calls:
            kind = "layernorm" if _subtracts_mean(body) else "rmsnorm"
        else:
            kind = "other"
        offset = 1 if _adds_one_to_weight(body) else 0
        bias = "bias" in c.attrs(leaf) or ("bias" in text_names and kind == "layernorm" and _bias_default(c, leaf, expr))
        line = forward.lineno
    else:  # nn.LayerNorm / nn.RMSNorm from torch
        kind = "rmsnorm" if "RMSNorm" in leaf else "layernorm"
        offset = 0
        bias_arg = _kwarg(expr, "bias")
        bias = kind == "layernorm" and (bias_arg is None or bool(c.config_value(bias_arg)))
        if _kwarg(expr, "elementwise_affine") is not None and c.config_value(_kwarg(expr, "elementwise_affine")) is False:
            bias = False
        line = expr.lineno
    return [Fact("norm.kind", kind, line, f"{leaf} in {layer}"), Fact("norm.weight_offset", offset, line),
            Fact("norm.bias", bool(bias), line)]


def _subtracts_mean(fn) -> bool:
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and "mean" in _names(n.right) for n in _walk(fn))


def _adds_one_to_weight(fn) -> bool:
    for n in _walk(fn):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            sides = (n.left, n.right)
            if any(isinstance(s, ast.Constant) and s.value == 1 for s in sides) and any("weight" in _names(s) for s in sides):
                return True
    return False


def _bias_default(c: _Code, cls: str, built: ast.Call) -> bool:
    """A norm subclass of nn.LayerNorm has a bias unless its constructor call or default turns it off."""
    init = c.method(cls, "__init__")
    passed = _passed(built, init, "bias", implicit=1)
    if passed is not None:
        return bool(c.config_value(passed))
    args = init.args if init else None
    if args is None:
        return True
    for arg, default in zip(args.args[-len(args.defaults):] if args.defaults else [], args.defaults):
        if arg.arg == "bias":
            return bool(c.config_value(default))
    return True


def _linear_statements(c: _Code, fn: ast.FunctionDef | None, owner: str | None) -> list[ast.stmt]:
    """The statements of fn in order, an `if self.X:` on a config flag replaced by the branch its default takes."""
    attrs = c.attrs(owner)
    out = []

    def walk(body):
        for stmt in body:
            if isinstance(stmt, ast.If):
                value = c.flag(stmt.test, attrs)
                walk(stmt.body if value is None or value else stmt.orelse)
            else:
                out.append(stmt)
    walk(fn.body if fn else [])
    return out


def _events(c: _Code, layer: str | None):
    """(kind, attr, input name, line) in evaluation order for the layer's forward: norm/attn/mlp calls, adds."""
    roles = _role_attrs(c, layer)
    version: dict[str, int] = {}
    events = []

    def root(expr):  # the variable a call's input comes from, seen through norm calls
        if isinstance(expr, ast.Call) and expr.args:
            return root(expr.args[0])
        if isinstance(expr, ast.Name):
            return (expr.id, version.get(expr.id, 0))
        return None

    def visit(node):
        if isinstance(node, ast.Call):
            for a in node.args + [k.value for k in node.keywords]:
                visit(a)
            attr = _self_call_attr(node)
            role = roles.get(attr, (None, None))[1] if attr else None
            if role in ("norm", "attention", "mlp", "moe"):
                arg = node.args[0] if node.args else _kwarg(node, "hidden_states")
                events.append((role if role != "moe" else "mlp", attr, root(arg) if arg is not None else None, node.lineno))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            visit(node.left)
            visit(node.right)
            if len([n for n in _walk(node) if isinstance(n, ast.Name)]) >= 2:
                events.append(("add", None, None, node.lineno))
        else:
            for child in ast.iter_child_nodes(node):
                visit(child)

    outputs = set()  # (name, version) holding the attention's output
    for stmt in _linear_statements(c, c.method(layer, "forward"), layer):
        before = len(events)
        visit(stmt.value if isinstance(stmt, (ast.Assign, ast.Return, ast.Expr)) else stmt)
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for n in _walk(target):
                    if isinstance(n, ast.Name):
                        version[n.id] = version.get(n.id, 0) + 1
                        if any(e[0] == "attention" for e in events[before:]):
                            outputs.add((n.id, version[n.id]))
    return events, outputs


def _block_facts(c: _Code, layer: str | None) -> list[Fact]:
    events, attn_outputs = _events(c, layer)
    attn = next((e for e in events if e[0] == "attention"), None)
    mlp = next((e for e in events if e[0] == "mlp"), None)
    out = []
    if attn and mlp:
        parallel = attn[2] is not None and attn[2] == mlp[2]
        out.append(Fact("block.residual", "parallel" if parallel else "sequential", mlp[3]))
    if attn:
        i = events.index(attn)
        pre = any(e[0] == "norm" for e in events[:i])
        after = []
        for e in events[i + 1:]:
            if e[0] in ("add", "mlp"):
                break
            after.append(e)
        post = any(e[0] == "norm" and e[2] in attn_outputs for e in after)
        placement = "sandwich" if pre and post else "post" if post else "pre"
        out.append(Fact("block.norm_placement", placement, attn[3]))
    scaled = any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div))
                 and any(t in _names(n) for t in ("residual_multiplier", "residual_scale", "resid_scale"))
                 for n in _walk(c.method(layer, "forward") or ast.Module(body=[], type_ignores=[])))
    out.append(Fact("residual.scale", scaled, _line(c.method(layer, "forward"))))
    return out


def _attention_class(c: _Code, layer: str | None) -> str | None:
    attrs = [built for built, role in _role_attrs(c, layer).values() if role == "attention"]
    if attrs:
        return attrs[0].rsplit(".", 1)[-1]
    found = c.by_role("attention")
    return found[0] if found else None


def _linears(c: _Code, cls: str | None) -> list[tuple[str, ast.Call]]:
    return [(attr, c.attrs(cls)[attr]) for attr, (_, role) in _role_attrs(c, cls).items() if role == "linear"]


def _bias(c: _Code, call: ast.Call, owner: str | None = None) -> bool:
    if _dotted(call.func).endswith("Conv1D"):
        return True
    arg = _kwarg(call, "bias")
    if arg is None and len(call.args) >= 3:
        arg = call.args[2]
    if arg is None:
        return True  # nn.Linear's default
    if isinstance(arg, ast.Attribute) and _is_self(arg.value):  # bias=self.use_bias, set from config
        arg = c.attrs(owner).get(arg.attr, arg)
    value = c.config_value(arg)
    if value is None and isinstance(arg, ast.BoolOp):
        value = any(c.config_value(v) for v in arg.values)
    return bool(value)


def _attention_facts(c: _Code, layer: str | None) -> list[Fact]:
    attn = _attention_class(c, layer)
    if attn is None:
        return []
    forward = c.method(attn, "forward")
    linears = dict(_linears(c, attn))
    inputs, output = [], None
    for fn in [m for m in c.classes[attn].body if isinstance(m, ast.FunctionDef) and m.name != "__init__"]:
        first = fn.args.args[1].arg if len(fn.args.args) > 1 else None
        for call in _calls(fn):
            attr = _self_call_attr(call)
            if attr in linears and call.args and first in _names(call.args[0]) and attr not in inputs:
                inputs.append(attr)  # a projection of the method's input: q/k/v (or a fused qkv)
            elif attr in linears and fn is forward:
                output = attr  # the last projection forward makes: the output
    role_attrs = _role_attrs(c, attn)
    out = [
        Fact("attn.qk_norm", any(role == "norm" for _, role in role_attrs.values()), _line(forward)),
        Fact("attn.fused_qkv", len(inputs) == 1, _line(linears[inputs[0]]) if inputs else None),
        Fact("attn.qkv_bias", any(_bias(c, linears[a], attn) for a in inputs), _line(linears[inputs[0]]) if inputs else None),
        Fact("attn.o_bias", bool(output and _bias(c, linears[output], attn)),
             _line(linears[output]) if output else None),
    ]
    callee = [c.functions[_dotted(n.func)] for n in _calls(forward) if _dotted(n.func) in c.functions]
    soft = False
    for node in [forward] + callee:
        if "tanh" in {_dotted(n.func).rsplit(".", 1)[-1] for n in _calls(node)}:
            soft = True
    if soft and callee:  # the eager function's softcap is on only where the caller passes one
        passed = [_passed(n, c.functions[_dotted(n.func)], "softcap") for n in _calls(forward) if _dotted(n.func) in c.functions]
        soft = any(p is not None and not (isinstance(p, ast.Constant) and p.value is None) and
                   c.config_value(c.attrs(attn).get(getattr(p, "attr", ""), p)) is not None for p in passed)
    out.append(Fact("attn.softcap", soft, _line(forward)))
    out.append(_sliding(c, attn))
    scaling = c.attrs(attn).get("scaling")
    if scaling is not None:
        names = _names(scaling)
        custom = not (names & HEAD_SIZE and not names - HEAD_SIZE - {"self", "math", "sqrt", "config"})
        out.append(Fact("attn.scale", "custom" if custom else "head_dim", scaling.lineno))
    else:
        divides = [n for n in _walk(forward) if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Div, ast.Mult))
                   and "sqrt" in _names(n.right)]
        custom = any(not (HEAD_SIZE & _names(n.right)) for n in divides)
        out.append(Fact("attn.scale", "custom" if custom else "head_dim", _line(forward)))
    return out


def _sliding(c: _Code, attn: str) -> Fact:
    everything = _names(c.tree)
    sliding_mask = any(n in everything for n in ("create_sliding_window_causal_mask", "sliding_window"))
    value = c.config.get("sliding_window")
    switch = c.config.get("use_sliding_window")  # a window the config declares but switches off
    uses_window = sliding_mask and (value is None or value.value is not None) and not (switch and switch.value is False)
    per_layer = uses_window and bool({"layer_types", "sliding_attention", "is_sliding", "sliding_window_pattern"} & everything)
    kind = "per_layer" if per_layer else "all" if uses_window else "none"
    return Fact("attn.sliding_window", kind, _line(c.classes[attn]), value.where if value else "")


def _position_facts(c: _Code) -> list[Fact]:
    rotary = c.by_role("rotary")
    apply = next((f for n, f in c.functions.items() if "rotary" in n or "rope" in n), None)
    everything = _names(c.tree)
    if rotary or apply:
        kind = "rope"
    elif any("alibi" in n for n in everything):
        kind = "alibi"
    elif {"wpe", "position_embeddings", "embed_positions"} & everything:
        kind = "learned"
    else:
        kind = "none"
    out = [Fact("pos.kind", kind, _line(apply) or _line(c.classes.get(rotary[0]) if rotary else None))]
    if kind != "rope":
        return out
    factor = next((c.config[k] for k in ("partial_rotary_factor", "rotary_pct") if k in c.config), None)
    sliced = apply is not None and any(isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Tuple)
                                      and any(isinstance(e, ast.Slice) and e.upper is not None for e in n.slice.elts)
                                      for n in _walk(apply))
    partial = ({"partial_rotary_factor", "rotary_pct", "rotary_ndims", "rotary_dim"} & everything or sliced) and (
        factor is None and sliced or factor is not None and isinstance(factor.value, (int, float)) and factor.value < 1)
    out.append(Fact("pos.rotary_fraction", "partial" if partial else "full", _line(apply),
                    factor.where if factor else ""))
    helper = c.functions.get("rotate_half")
    interleaved = any(isinstance(n, ast.Slice) and isinstance(n.step, ast.Constant) and n.step.value == 2
                      for n in _walk(helper or apply or c.tree)) or "repeat_interleave" in _names(helper or apply)
    out.append(Fact("pos.rotary_style", "interleaved" if interleaved else "half", _line(helper or apply)))
    return out


def _mlp_facts(c: _Code, layer: str | None) -> list[Fact]:
    roles = _role_attrs(c, layer)
    mlp = next((b.rsplit(".", 1)[-1] for b, r in roles.values() if r == "mlp"), None)
    moe = any(r == "moe" for _, r in roles.values())
    if mlp is None:
        mlp = next((n for n in c.by_role("mlp")), None)
    out = [Fact("mlp.moe", moe, _line(c.classes.get(layer or "")))]
    if mlp is None:
        return out
    forward = c.method(mlp, "forward")
    attrs = c.attrs(mlp)
    act_attrs = {a for a, e in attrs.items() if "ACT2FN" in _names(e) or "get_activation" in _names(e)
                 or a in ("act", "act_fn", "activation_fn", "activation")}
    act_calls = [n for n in _calls(forward) if _self_call_attr(n) in act_attrs or
                 _dotted(n.func).rsplit(".", 1)[-1] in ("silu", "gelu", "relu", "relu2")]
    gated = any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and any(
        a in list(_walk(n.left)) + list(_walk(n.right)) for a in act_calls) for n in _walk(forward))
    linears = _linears(c, mlp)
    fused = gated and len([a for a, _ in linears]) == 2
    out += [Fact("mlp.gated", gated, _line(forward)), Fact("mlp.fused_gate_up", fused, _line(forward)),
            Fact("mlp.bias", any(_bias(c, call, mlp) for _, call in linears), _line(linears[0][1]) if linears else None)]
    out.append(_activation(c, mlp, act_attrs, act_calls))
    return out


def _activation(c: _Code, mlp: str, act_attrs: set[str], act_calls: list[ast.Call]) -> Fact:
    attrs = c.attrs(mlp)
    for attr in act_attrs:
        expr = attrs[attr]
        local = [attrs[f"local:{n.id}"] for n in _walk(expr) if isinstance(n, ast.Name) and f"local:{n.id}" in attrs]
        for sub in [s for e in [expr, *local] for s in _walk(e)]:
            field = _config_field(sub) if isinstance(sub, (ast.Attribute, ast.Call)) else None
            set_here = attrs.get(f"config:{field}")
            if isinstance(set_here, ast.Constant) and isinstance(set_here.value, str):
                name = set_here.value
                return Fact("mlp.activation", ACT_NAMES.get(name, name), set_here.lineno, f"config.{field} set in {mlp}")
            if field and field in c.config and isinstance(c.config[field].value, str):
                name = c.config[field].value
                return Fact("mlp.activation", ACT_NAMES.get(name, name), expr.lineno, f"config.{field} = {name!r} "
                            f"({c.config[field].where})")
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in ACT_NAMES:
                return Fact("mlp.activation", ACT_NAMES[sub.value], expr.lineno, "literal")
    for call in act_calls:
        leaf = _dotted(call.func).rsplit(".", 1)[-1]
        if leaf in ACT_NAMES:
            return Fact("mlp.activation", ACT_NAMES[leaf], call.lineno, "call")
    return Fact("mlp.activation", "unknown", None, "no activation resolved")


def _sqrt_of_hidden(product: ast.BinOp) -> bool:
    """`h * hidden_size**0.5`, `h * math.sqrt(config.hidden_size)`: the scale written out, not named."""
    for side in (product.left, product.right):
        for n in _walk(side):
            root = (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant)
                    and n.right.value == 0.5) or (isinstance(n, ast.Call) and _dotted(n.func).endswith("sqrt"))
            if root and "hidden_size" in _names(n):
                return True
    return False


def _model_facts(c: _Code) -> list[Fact]:
    out = []
    model = next(iter(c.by_role("model")), None)
    lm = next(iter(c.by_role("lm head")), None)
    embed_scale = "none"
    line = None
    scale_sources = [c.method(model, "forward")] + [c.method(e, "forward") for e in c.by_role("embedding")]
    for fn in filter(None, scale_sources):
        for n in _walk(fn):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
                names = _names(n)
                if {"embed_scale", "normalizer", "embedding_multiplier", "scale_emb", "emb_scale"} & names or _sqrt_of_hidden(n):
                    line = n.lineno
                    embed_scale = "multiplier" if {"embedding_multiplier", "scale_emb"} & names else "sqrt_hidden"
    out.append(Fact("embed.scale", embed_scale, line))
    tie = c.config.get("tie_word_embeddings")
    out.append(Fact("head.tied", bool(tie.value) if tie else False, None, tie.where if tie else "no default: untied"))
    forward = c.method(lm, "forward")
    tanh = any(_dotted(n.func).rsplit(".", 1)[-1] == "tanh" for n in _calls(forward))
    cap = c.config.get("final_logit_softcapping")
    out.append(Fact("head.final_softcap", tanh and (cap is None or cap.value is not None), _line(forward)))
    scaled = any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)) and
                 {"logit_scale", "logits_scaling", "output_multiplier", "logit_scaling"} & _names(n)
                 for n in _walk(forward or ast.Module(body=[], type_ignores=[])))
    out.append(Fact("head.logit_scale", scaled, _line(forward)))
    return out


def _precision_facts(c: _Code, layer: str | None) -> list[Fact]:
    """Where the code keeps float32 before a sensitive step (the Gemma bugs were all here)."""
    out = []
    rotary = next(iter(c.by_role("rotary")), None)
    forward = c.method(rotary, "forward")
    if forward is not None:
        upcast = any(_dotted(n.func).endswith(".float") or "float32" in _names(n) or "float" in _names(n)
                     for n in _calls(forward))
        out.append(Fact("precision.rope_float32", upcast, forward.lineno,
                        "" if upcast else "frequencies and positions multiplied in the activation dtype"))
    norm = next((b.rsplit(".", 1)[-1] for b, r in _role_attrs(c, layer).values() if r == "norm"), None)
    if c.definer(norm, "forward"):
        cls = c.classes[c.definer(norm, "forward")]
        order = None
        for n in _walk(cls):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and "weight" in _names(n):
                other = n.right if "weight" in _names(n.left) else n.left
                if any(_dotted(k.func).endswith((".to", ".type_as")) for k in _calls(other)):
                    order = "cast_then_weight"  # Llama: weight * x.to(input_dtype)
                else:
                    order = order or "weight_in_float32"  # Gemma: (x * (1 + w.float())).type_as(x)
        if order:
            out.append(Fact("precision.norm_weight", order, cls.lineno))
    soft = [n for fn in list(c.functions.values()) + [c.method(a, "forward") for a in c.by_role("attention")]
            for n in _calls(fn) if _dotted(n.func).rsplit(".", 1)[-1] == "softmax"]
    if soft:
        fp32 = any("float32" in _names(n) or any(_dotted(k.func).endswith(".float") for k in _calls(n)) for n in soft)
        out.append(Fact("precision.softmax_float32", fp32, soft[0].lineno))
    lm = c.method(next(iter(c.by_role("lm head")), None), "forward")
    if lm is not None:
        up = any(_dotted(n.func).endswith(".float") for n in _calls(lm))
        out.append(Fact("precision.logits_float32", up, lm.lineno))
    return out
