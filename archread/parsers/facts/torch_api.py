"""What torch's own constructors and activation functions mean: their defaults and their math.

These tables describe torch's (and the transformers activation table's) API, never a model: `nn.Linear` has a
bias unless told otherwise, `nn.GELU(approximate="tanh")` is the tanh GELU, `ACT2FN["gelu_new"]` too.
"""

from __future__ import annotations

import ast

from archread.parsers.facts.syntax import calls, kwarg, leaf, walk

# ACT2FN / get_activation names → the activation they compute
ACT_NAMES = {"swish": "silu", "silu": "silu", "gelu": "gelu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh",
             "gelu_fast": "gelu_tanh", "gelu_accurate": "gelu_tanh", "gelu_python": "gelu", "relu": "relu",
             "relu2": "relu2", "relu_squared": "relu2", "gelu_tanh": "gelu_tanh", "tanh": "tanh", "sigmoid": "sigmoid",
             "quick_gelu": "quick_gelu", "gelu_10": "gelu_clipped", "leaky_relu": "leaky_relu", "mish": "mish",
             "relu6": "relu6", "linear": "identity", "xielu": "xielu", "elu": "elu", "selu": "selu",
             "swiglu": "silu", "geglu": "gelu"}
# torch activation modules and functions → the activation they compute (nn.GELU's `approximate` is read apart)
ACT_CALLS = {"SiLU": "silu", "silu": "silu", "GELU": "gelu", "gelu": "gelu", "ReLU": "relu", "relu": "relu",
             "Tanh": "tanh", "tanh": "tanh", "Sigmoid": "sigmoid", "sigmoid": "sigmoid", "Mish": "mish", "mish": "mish",
             "ReLU6": "relu6", "relu6": "relu6", "LeakyReLU": "leaky_relu", "leaky_relu": "leaky_relu",
             "ELU": "elu", "elu": "elu", "SELU": "selu", "selu": "selu", "GELUTanh": "gelu_tanh",
             "PytorchGELUTanh": "gelu_tanh", "NewGELUActivation": "gelu_tanh", "FastGELU": "gelu_tanh",
             "QuickGELU": "quick_gelu", "ReLUSquared": "relu2", "ReLUSquaredActivation": "relu2", "swish": "silu"}
LINEAR_CLASSES = {"Linear", "Conv1D", "LazyLinear"}  # Conv1D: GPT-2's transposed linear, always with a bias
NORM_CLASSES = {"LayerNorm": "layernorm", "RMSNorm": "rmsnorm", "GroupNorm": "groupnorm"}


def linear_bias_default(cls_leaf: str) -> bool:
    return True  # nn.Linear(bias=True), Conv1D always


def act_of_call(call: ast.Call) -> str | None:
    """nn.GELU(approximate="tanh") / F.gelu(x, approximate="tanh") / nn.SiLU() / torch.relu → the activation."""
    name = ACT_CALLS.get(leaf(call.func))
    if name == "gelu":
        approx = kwarg(call, "approximate")
        if isinstance(approx, ast.Constant) and approx.value == "tanh":
            return "gelu_tanh"
    return name


def act_of_body(fn: ast.FunctionDef | ast.ClassDef | None, values: tuple = ()) -> str | None:
    """A small function (or module forward) read by what it computes: bloom's tanh formula is gelu_tanh.
    `values`: the numbers its `self.X` read (a config default: GPT-OSS's `sigmoid(gate * self.alpha)`, alpha 1.702)."""
    if fn is None:
        return None
    consts = {n.value for n in walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, (int, float))}
    consts |= {v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
    called = {leaf(c.func) for c in calls(fn)}
    if "erf" in called:
        return "gelu"
    if "tanh" in called and any(abs(v - 0.044715) < 1e-6 for v in consts):
        return "gelu_tanh"
    if "sigmoid" in called and any(abs(v - 1.702) < 1e-6 for v in consts):
        return "quick_gelu"
    if "relu" in called and (2 in consts or "square" in called):
        return "relu2"
    for c in calls(fn):
        found = act_of_call(c)
        if found and found != "sigmoid":
            return found
    if "sigmoid" in called and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) for n in walk(fn)):
        return "silu"  # x * sigmoid(x)
    return None


def multiplies_halves(fn: ast.FunctionDef | ast.ClassDef | None) -> bool:
    """A gated activation written as one function: chunk (or split) its input, multiply the halves (swiglu)."""
    if fn is None:
        return False
    split = any(leaf(c.func) in ("chunk", "split", "unbind") for c in calls(fn)) or any(  # x[..., ::2], x[..., 1::2]
        isinstance(n, ast.Slice) and isinstance(n.step, ast.Constant) and n.step.value == 2 for n in walk(fn))
    return split and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) for n in walk(fn))
