"""Bind Triton kernels to a reduced model's components by probing, never by model name.

A probe forward pass records what each candidate component received and returned: modules shaped like a
norm (one or two 1-D parameters) or an MLP (Linear children and an `act_fn`), and the module-level
functions shaped like RoPE (q, k, cos, sin, …) or eager attention (module, query, key, value, mask, …).
Which kernel a component is gets decided in float32 on those inputs upcast (once per class), where only
the right kernel agrees to 1e-5; it is then confirmed on the recorded low-precision calls, within the
dtype's rounding, and replaces the component. What no kernel reproduces stays plain torch, and
the report says so.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field

import torch

from archread.runtime.kernels import ACTS, KernelLimitError, activation, apply_rope, attention, layer_norm, rms_norm

TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 1.5e-2, torch.float16: 2e-3}  # rel L2 to accept a kernel
FLOAT32_TOLERANCE = 1e-5  # to decide which kernel a component is: in float32 only the right one gets here


class Fallback(Exception):
    """A call a kernel does not cover (another mask, extra arguments): the original handles it."""


def _guarded(kernel_fn, original):
    def call(*args, **kwargs):
        try:
            return kernel_fn(*args, **kwargs)
        except (Fallback, KernelLimitError):
            return original(*args, **kwargs)
    return call


@dataclass
class Binding:
    component: str  # module path pattern or function name
    kind: str  # class name, or "function"
    kernel: str | None  # None: stayed plain torch
    rel_l2: float | None = None
    count: int = 1

    def to_json(self) -> dict:
        return {"component": self.component, "kind": self.kind, "kernel": self.kernel or "torch",
                "rel_l2": self.rel_l2, "count": self.count}


@dataclass
class BindReport:
    bindings: list[Binding] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for b in self.bindings:
            where = f"{b.component} ×{b.count}" if b.count > 1 else b.component
            err = f" (probe rel_l2 {b.rel_l2:.1e})" if b.rel_l2 is not None else ""
            out.append(f"{where:<44} {b.kind:<24} → {b.kernel or 'plain torch'}{err}")
        return out


def _rel(got, want) -> float:
    if isinstance(want, (tuple, list)):
        # both sides' tensors; a kernel returns None where the original also returned its attention weights
        parts = [(g, w) for g, w in zip(got, want) if isinstance(w, torch.Tensor) and g is not None]
        return max((_rel(g, w) for g, w in parts), default=float("inf"))
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return float("inf")
    want = want.float()
    return ((got.float() - want).norm() / want.norm().clamp_min(1e-30)).item()


def _eps(module) -> float | None:
    for name in ("variance_epsilon", "eps", "epsilon", "layer_norm_eps", "norm_eps"):
        value = getattr(module, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


# --- candidates: (name, callable(*args, **kwargs)) that may stand in for a component --------------------

def norm_candidates(module: torch.nn.Module):
    params = dict(module.named_parameters(recurse=False))
    eps = _eps(module)
    weight, bias = params.get("weight"), params.get("bias")
    if eps is None or weight is None or weight.dim() != 1 or list(module.children()) or set(params) - {"weight", "bias"}:
        return []
    out = []
    for offset in (0.0, 1.0):
        tag = ", 1+w" if offset else ""
        if bias is None:
            out.append((f"rms_norm(round first{tag})", lambda x, o=offset: rms_norm(x, weight, eps, o, True)))
            out.append((f"rms_norm(float32 weight{tag})", lambda x, o=offset: rms_norm(x, weight, eps, o, False)))
        out.append((f"layer_norm({'bias' if bias is not None else 'no bias'}{tag})",
                    lambda x, o=offset: layer_norm(x, weight, bias, eps, o)))
    return out


def mlp_candidates(module: torch.nn.Module):
    linears = [(n, m) for n, m in module.named_children() if isinstance(m, torch.nn.Linear)]
    if not callable(getattr(module, "act_fn", None)) or len(linears) not in (2, 3):
        return []
    *ins, (down_name, down) = linears
    if any(m.in_features != ins[0][1].in_features or m.out_features != down.in_features for _, m in ins):
        return []
    out = []
    for act in ACTS:
        if len(ins) == 1:
            (_, up), = ins
            out.append((f"activation({act})", lambda x, a=act, up=up: down(activation(up(x), None, a))))
        else:
            for (gn, gate), (un, up) in (ins, ins[::-1]):
                out.append((f"activation({act}({gn})·{un})",
                            lambda x, a=act, g=gate, u=up: down(activation(g(x), u(x), a))))
    return out


def _by_name(fn):
    """A call's (args, kwargs) as {parameter: value} of fn, defaults filled and `**kwargs` spread; None where a
    `*args` caught something. A reduction may pass by position what the original passed by keyword (`scaling`)."""
    signature = inspect.signature(fn)
    kinds = {p.name: p.kind for p in signature.parameters.values()}

    def named(args, kwargs) -> dict | None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out = {}
        for name, value in bound.arguments.items():
            if kinds[name] is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    return None
            elif kinds[name] is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            else:
                out[name] = value
        return out
    return named


def rope_candidates(fn):
    named, (q, k, cos, sin) = _by_name(fn), list(inspect.signature(fn).parameters)[:4]

    def bound(interleaved):
        def rope(*args, **kwargs):
            given = named(args, kwargs)
            if given is None or given[cos].dim() != 3 or any(
                    v not in (None, 1) for n, v in given.items() if n not in (q, k, cos, sin)):
                raise Fallback
            return apply_rope(given[q], given[k], given[cos], given[sin], interleaved)
        return rope
    return [("rope(half)", bound(False)), ("rope(interleaved)", bound(True))]


def attention_candidates(fn, pair: bool = True):
    """`pair`: the function returns (output, weights), as HF's does; a reduction whose callers read only the
    output (the `returns` pass) returns the output alone."""
    named, leading = _by_name(fn), list(inspect.signature(fn).parameters)[1:5]  # after the module: q, k, v, mask

    def bound(*args, **kwargs):
        given = named(args, kwargs)
        if given is None:
            raise Fallback
        query, key, value, mask = (given[n] for n in leading)
        window = getattr(mask, "causal_window", None)  # set by the prelude's causal masks only
        if window is None or any(given.get(k) is not None for k in ("sinks", "s_aux", "head_mask")):
            raise Fallback
        out = attention(query, key, value, given.get("scaling"), window or None, given.get("softcap")).transpose(1, 2)
        return (out, None) if pair else out
    return [("attention(causal flash)", bound)]


def _function_kind(fn) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    if params[:4] == ["q", "k", "cos", "sin"]:
        return "rope"
    if len(params) >= 5 and params[0] == "module" and params[1:4] == ["query", "key", "value"]:
        return "attention"
    return None


# --- probing ----------------------------------------------------------------------------------------------

def bind(model: torch.nn.Module, tokens: torch.Tensor, namespace: dict | None = None) -> BindReport:
    """Probe with `tokens`, swap in every kernel that reproduces its component, report all components.

    `namespace`: the globals the model's code calls its functions through (default: those of the model's
    own class, which for a reduced model is the exec'd reduced module)."""
    if namespace is None:
        namespace = type(model).forward.__globals__
    dtype = next(model.parameters()).dtype
    tol = TOLERANCE.get(dtype, 1e-5)
    modules = {name: (m, norm_candidates(m) or mlp_candidates(m)) for name, m in model.named_modules()}
    modules = {n: v for n, v in modules.items() if v[1]}
    functions = {}
    if namespace is not None:
        for name, fn in list(namespace.items()):
            kind = _function_kind(fn) if inspect.isfunction(fn) else None
            if kind:
                functions[name] = (fn, kind)
    seen_modules: dict[str, tuple] = {}
    seen_calls: dict[str, list] = {name: [] for name in functions}
    def keep(name):
        def hook(_module, args, out):  # returns None: a hook's return value would replace the output
            seen_modules.setdefault(name, (args, out))
        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, (m, _) in modules.items()]

    def recorder(name, fn):
        kinds = set()

        def record(*args, **kwargs):  # one call of each kind: keywords, mask window, shapes
            out = fn(*args, **kwargs)
            kind = (tuple(sorted(k for k, v in kwargs.items() if v is not None)),
                    tuple(getattr(a, "causal_window", None) for a in args),
                    tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor)))
            if kind not in kinds and len(kinds) < 8:
                kinds.add(kind)
                seen_calls[name].append((args, kwargs, out))
            return out
        return record

    for name, (fn, _) in functions.items():
        namespace[name] = recorder(name, fn)
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for h in hooks:
            h.remove()
        for name, (fn, _) in functions.items():
            namespace[name] = fn

    report = BindReport()
    by_pattern: dict[tuple, Binding] = {}
    decided: dict[type, set[str]] = {}  # one decision per class, taken in float32
    with torch.no_grad():
        for name, (module, candidates) in modules.items():
            if name not in seen_modules:
                continue
            args, want = seen_modules[name]
            if type(module) not in decided:
                decided[type(module)] = _decide_module(module, args)
            chosen = _confirm(candidates, decided[type(module)], [(args, {}, want)], tol)
            if chosen:
                module.forward = _guarded(chosen[1], module.forward)
            pattern = ".".join("*" if part.isdigit() else part for part in name.split("."))
            key = (pattern, type(module).__name__, chosen[0] if chosen else None)
            if key in by_pattern:
                by_pattern[key].count += 1
            else:
                by_pattern[key] = Binding(pattern, type(module).__name__, key[2], chosen[2] if chosen else None)
        for name, (fn, kind) in functions.items():
            if not seen_calls[name]:
                continue
            candidates = rope_candidates(fn) if kind == "rope" else attention_candidates(
                fn, pair=isinstance(seen_calls[name][0][2], tuple))  # shaped like what the function returned
            calls32 = [(_upcast(a), _upcast(k), None) for a, k, _ in seen_calls[name]]
            calls32 = [(a, k, fn(*a, **k)) for a, k, _ in calls32]
            chosen = _confirm(candidates, _agreeing(candidates, calls32), seen_calls[name], tol)
            if chosen:
                namespace[name] = _guarded(chosen[1], fn)
            by_pattern[(name,)] = Binding(name, "function", chosen[0] if chosen else None, chosen[2] if chosen else None)
    report.bindings = list(by_pattern.values())
    return report


def _upcast(value):
    """Recorded arguments in float32 (tensors only; modules and numbers as they are)."""
    if isinstance(value, torch.Tensor):
        up = value.float() if value.is_floating_point() else value
        if hasattr(value, "causal_window"):
            up = up.clone()
            up.causal_window = value.causal_window
        return up
    if isinstance(value, tuple):
        return tuple(_upcast(v) for v in value)
    if isinstance(value, list):
        return [_upcast(v) for v in value]
    if isinstance(value, dict):
        return {k: _upcast(v) for k, v in value.items()}
    return value


def _decide_module(module, args) -> set[str]:
    """The candidates that compute what this class computes, judged in float32, where rounding cannot hide a
    difference (GELU exact and tanh differ by less than bfloat16's resolution)."""
    twin = copy.deepcopy(module).float()
    args32 = _upcast(args)
    return _agreeing(norm_candidates(twin) or mlp_candidates(twin), [(args32, {}, twin(*args32))])


def _agreeing(candidates, calls) -> set[str]:
    agree = set()
    for label, fn in candidates:
        try:
            if max(_rel(fn(*args, **kwargs), out) for args, kwargs, out in calls) <= FLOAT32_TOLERANCE:
                agree.add(label)
        except (Fallback, KernelLimitError, RuntimeError, TypeError, ValueError):
            pass
    return agree


def _confirm(candidates, labels, calls, tol):
    """Of the candidates float32 agreed on, the closest on the recorded low-precision calls (where the
    cast order, invisible in float32, shows), if within rounding."""
    return _best([c for c in candidates if c[0] in labels], calls, tol)


def _best(candidates, calls, tol):
    """The candidate with the smallest worst-case error over the recorded calls, if within tolerance."""
    best = None
    for label, fn in candidates:
        try:
            err = max(_rel(fn(*args, **kwargs), out) for args, kwargs, out in calls)
        except (Fallback, KernelLimitError, RuntimeError, TypeError, ValueError):
            continue  # this kernel does not cover every recorded call
        if err <= tol and (best is None or err < best[2]):
            best = (label, fn, err)
    return best
