"""Multi-head latent attention: q and kv go through low-rank latents (each with its norm); the head splits into a
rotated part and a part without positions."""

from __future__ import annotations

import ast

from archread.parsers.facts.attention import attention_class, feeds_linear, reads_projection
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.parts import parts
from archread.parsers.facts.syntax import calls, config_field, leaf, walk


def mla_facts(c: Code, layer: str | None) -> list[Fact]:
    attn = attention_class(c, layer)
    if attn is None:
        return []
    latents = [p for p in parts(c, attn, into=()) if p.kind == "norm" and feeds_linear(c, attn, p.attr)
               and reads_projection(c, attn, p.attr)]
    out = [Fact("attn.mla", bool(latents), latents[0].expr.lineno if latents else c.classes[attn].lineno)]
    if not latents:
        return out
    for p in latents:  # the norm's width is the latent's rank
        value = _field(c, p.expr.args[0] if p.expr.args else None, attn)
        key = "mla.kv_rank" if "kv" in p.attr or "k" == p.attr[:1] else "mla.q_rank"
        if value:
            out.append(Fact(key, value[0], p.expr.lineno, value[1]))
    if not any(f.key == "mla.q_rank" for f in out):
        out.append(Fact("mla.q_rank", "none", c.classes[attn].lineno, "queries projected without a latent"))
    for call in calls(c.classes[attn]):
        if leaf(call.func) == "split" and call.args and isinstance(call.args[-1] if len(call.args) > 1 else None, ast.List):
            sizes = [_field(c, e, attn) for e in call.args[1].elts]
            names = [config_field(c.resolve(e, attn)) or "" for e in call.args[1].elts]
            for (size, name) in zip(sizes, names):
                if size and "rope" in name:
                    out.append(Fact("mla.rope_dim", size[0], call.lineno, size[1]))
                elif size and "nope" in name:
                    out.append(Fact("mla.nope_dim", size[0], call.lineno, size[1]))
            if any(f.key == "mla.rope_dim" for f in out):
                break
    return out


def _field(c: Code, expr, owner):
    expr = c.resolve(expr, owner)
    for n in walk(expr):
        field = config_field(n)
        if field and field in c.config:
            return c.config[field].value, f"config.{field} ({c.config[field].where})"
    return None
