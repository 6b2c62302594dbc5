"""The model's ends: embedding scale, tied head, final softcap, logit scale."""

from __future__ import annotations

import ast

from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.syntax import EMPTY, calls, dotted, leaf, line, names, walk


def _sqrt_of_hidden(product: ast.BinOp) -> bool:
    """`h * hidden_size**0.5`, `h * math.sqrt(config.hidden_size)`: the scale written out, not named."""
    for side in (product.left, product.right):
        for n in walk(side):
            root = (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant)
                    and n.right.value == 0.5) or (isinstance(n, ast.Call) and dotted(n.func).endswith("sqrt"))
            if root and "hidden_size" in names(n):
                return True
    return False


def model_facts(c: Code) -> list[Fact]:
    out = []
    model = next(iter(c.by_role("model")), None)
    lm = next(iter(c.by_role("lm head")), None)
    embed_scale, where = "none", None
    for fn in filter(None, [c.method(model, "forward")] + [c.method(e, "forward") for e in c.by_role("embedding")]):
        for n in walk(fn):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
                found = names(n)
                if {"embed_scale", "normalizer", "embedding_multiplier", "scale_emb", "emb_scale"} & found or _sqrt_of_hidden(n):
                    where = n.lineno
                    embed_scale = "multiplier" if {"embedding_multiplier", "scale_emb"} & found else "sqrt_hidden"
    out.append(Fact("embed.scale", embed_scale, where))
    tie = c.config.get("tie_word_embeddings")
    out.append(Fact("head.tied", bool(tie.value) if tie else False, None, tie.where if tie else "no default: untied"))
    forward = c.method(lm, "forward")
    tanh = any(leaf(n.func) == "tanh" for n in calls(forward or EMPTY))
    cap = c.config.get("final_logit_softcapping")
    out.append(Fact("head.final_softcap", tanh and (cap is None or cap.value is not None), line(forward)))
    scaled = any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)) and
                 {"logit_scale", "logits_scaling", "output_multiplier", "logit_scaling"} & names(n)
                 for n in walk(forward or EMPTY))
    out.append(Fact("head.logit_scale", scaled, line(forward)))
    return out
