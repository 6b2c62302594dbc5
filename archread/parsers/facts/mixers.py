"""State-space and linear-attention mixers: their kind, state size and causal convolution."""

from __future__ import annotations

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.layers import decoder_layers, mixer_kind
from archread.parsers.facts.parts import parts
from archread.parsers.facts.syntax import config_field, kwarg, line, walk


def mixer_facts(c: Code) -> list[Fact]:
    seen, out = set(), []
    for layer, layer_when in decoder_layers(c):
        for p in parts(c, layer):
            if p.kind != "mixer" or p.cls in seen:
                continue
            seen.add(p.cls)
            when = " and ".join(w for w in (layer_when, p.when) if w)
            out.append(Fact("mixer.kind", mixer_kind(c, p.cls), line(c.classes[p.cls]), p.cls, when))
            attrs = c.attrs(p.cls)
            state = next((v for k, v in attrs.items() if "state" in k and "size" in k or k in ("d_state", "state_size")), None)
            found = _field(c, state, p.cls)
            if found:
                out.append(Fact("mixer.state_size", found[0], line(state), found[1], when))
            conv = next((q for q in parts(c, p.cls, into=()) if q.kind == "conv"), None)
            if conv is not None:
                kernel = kwarg(conv.expr, "kernel_size") or (conv.expr.args[2] if len(conv.expr.args) > 2 else None)
                found = _field(c, kernel, p.cls)
                out.append(Fact("mixer.conv_kernel", found[0] if found else "yes", line(conv.expr),
                                found[1] if found else "", when))
            break
    return out


def _field(c: Code, expr, owner):
    expr = c.resolve(expr, owner)
    if expr is None:
        return None
    for n in walk(expr):
        field = config_field(n)
        if field and field in c.config:
            return c.config[field].value, f"config.{field} ({c.config[field].where})"
    return None
