"""Configuration values that give a candidate's tree a checkpoint's shapes: the size laws solved for the fields.

Least squares on log sizes (a law is a product of fields, times a sum where tensors are fused), with a weak
pull towards the candidate's own defaults for what the shapes leave open (heads against head size when no
tensor has the head size alone); then integers, each field tried at the values its equations alone give.
"""

from __future__ import annotations

import math

import numpy as np

from archread.fit.laws import predict

_PRIOR = 1e-2  # the defaults' weight: they decide only what the shapes leave free


def _start(field: str, tiny: dict, defaults: dict) -> float:
    value = defaults.get(field)
    return float(value) if type(value) is int and value > 0 else float(tiny[field])


def _log_pred(law, x, t) -> float:
    return math.log(max(predict(law, x, t), 1e-9))


def _grad(law, x, t, names) -> np.ndarray:
    v0, exps, lin = law
    base = v0 + sum(a * (x[g] - t[g]) for g, a in lin.items())
    base = base if abs(base) > 1e-9 else 1e-9
    return np.array([exps.get(f, 0) + (lin.get(f, 0.0) * x[f]) / base for f in names])


def solve(equations: list[tuple[int, list]], tiny: dict, defaults: dict) -> tuple[dict, list[str]]:
    """(field -> integer value, fields the shapes leave open) for equations [(observed size, law)]."""
    names = sorted({f for _, law in equations for f in (*law[1], *law[2])})
    if not names:
        return {}, []
    prior = np.log([_start(f, tiny, defaults) for f in names])
    u = prior.copy()
    for _ in range(40):
        x = {**tiny, **dict(zip(names, np.exp(u)))}
        rows = [_grad(law, x, tiny, names) for _, law in equations]
        res = [_log_pred(law, x, tiny) - math.log(max(obs, 1)) for obs, law in equations]
        jac = np.vstack([np.array(rows), _PRIOR * np.eye(len(names))])
        r = np.concatenate([np.array(res), _PRIOR * (u - prior)])
        step, *_ = np.linalg.lstsq(jac, -r, rcond=None)
        u = u + np.clip(step, -3, 3)
        if np.abs(step).max() < 1e-9:
            break
    x = {**tiny, **{f: max(1, round(float(math.exp(v)))) for f, v in zip(names, u)}}
    x = _integer_search(equations, x, tiny, names, defaults)
    data = np.array([_grad(law, {**tiny, **x}, tiny, names) for _, law in equations])
    return {f: x[f] for f in names}, _open_fields(data, names)


def _misses(equations, x, tiny) -> int:
    return sum(round(predict(law, x, tiny)) != obs for obs, law in equations)


def _alone(obs: int, law, f: str, x: dict, tiny: dict) -> float | None:
    """The value of f that makes this one law give obs, the other fields held."""
    v0, exps, lin = law
    if f in exps and f not in lin:
        rest = predict(law, {**x, f: tiny[f]}, tiny)
        return tiny[f] * (obs / rest) ** (1 / exps[f]) if rest > 0 else None
    if f in lin:  # two tries cover a field both scaling and summed
        lo, hi = predict(law, {**x, f: 1}, tiny), predict(law, {**x, f: 2}, tiny)
        return 1 + (obs - lo) / (hi - lo) if hi != lo else None
    return None


def _integer_search(equations, x, tiny, names, defaults) -> dict:
    def cost(values):
        prior = sum(abs(math.log(values[f] / _start(f, tiny, defaults))) for f in names)
        return _misses(equations, values, tiny), prior

    best = dict(x)
    for _ in range(3):
        improved = False
        for f in names:
            options = {best[f], best[f] + 1, max(1, best[f] - 1)}
            for obs, law in equations:
                value = _alone(obs, law, f, best, tiny)
                if value is not None and 0.5 < value < 1e9:
                    options.update({max(1, math.floor(value)), max(1, math.ceil(value))})
            chosen = min(options, key=lambda v: cost({**best, f: v}))
            if chosen != best[f]:
                best[f], improved = chosen, True
        if not improved:
            break
    return best


def _open_fields(data: np.ndarray, names: list[str]) -> list[str]:
    """Fields some change of which no shape sees (a null direction of the data's Jacobian)."""
    if data.size == 0:
        return list(names)
    _, s, vt = np.linalg.svd(data, full_matrices=True)
    rank = int((s > 1e-6 * max(s.max(), 1e-12)).sum())
    null = vt[rank:]
    return [f for i, f in enumerate(names) if null.size and np.abs(null[:, i]).max() > 1e-6]
