"""A size law evaluated: the size of one axis at some configuration values (pure Python, no torch)."""

from __future__ import annotations


def predict(law: list, x: dict, t: dict) -> float:
    v0, exps, lin = law
    scale = 1.0
    for f, e in exps.items():
        scale *= (x[f] / t[f]) ** e
    return scale * (v0 + sum(a * (x[g] - t[g]) for g, a in lin.items()))
