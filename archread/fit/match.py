"""One candidate against one checkpoint by name: pair tensors by normalised name, solve the configuration,
predict the candidate's tree at it layer by layer, and count what agrees."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from archread.fit.laws import predict
from archread.fit.layers import Tree, split_tree
from archread.fit.per_layer import layer_config
from archread.fit.solve import solve


@dataclass
class Fit:
    model_type: str
    score: float
    config: dict
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "name: checkpoint (a, b), candidate (c, d)"
    open_fields: list[str] = field(default_factory=list)  # set from the defaults: the shapes do not tell them
    tied: list[str] = field(default_factory=list)
    prior: float = 0.0  # agreement with the candidate's defaults, for candidates the shapes cannot tell apart
    renaming: dict | None = None  # structure mode: checkpoint name -> candidate name (or a split)
    conflicts: int = 0  # structure mode: name components the renaming maps two ways (see structure.word_conflicts)
    notes: list[str] = field(default_factory=list)
    entry: dict | None = None

    def to_json(self) -> dict:
        out = {"model_type": self.model_type, "score": round(self.score, 4), "config": self.config,
               "missing": self.missing, "unexpected": self.unexpected, "mismatched": self.mismatched}
        return out


def forms(entry: dict) -> list[dict]:
    """A candidate's trees: its module's, and the one save_pretrained writes where that differs (the checkpoint
    format transformers converts from on loading)."""
    saved = entry.get("saved")
    return [entry] + ([{**entry, **saved, "saved": None, "form": "saved"}] if saved else [])


class Candidate:
    """A signature, split into its layers once."""

    def __init__(self, entry: dict):
        self.entry = entry
        self.tensors = {n: tuple(s) for n, s in entry["tensors"].items()}
        self.tree = split_tree(self.tensors)
        self.normalised = set(self.tree.normalised())
        self.laws = entry["laws"]
        self.tiny = entry["tiny"]
        self.layer_laws = {j: {inner: self.laws[self.tree.full(j, inner)] for inner in t}
                           for j, t in self.tree.layers.items()}

    def shape_at(self, name: str, x: dict) -> tuple | None:
        """The predicted shape; None on an axis whose size no law predicts."""
        return tuple(None if law is None else round(predict(law, x, self.tiny)) for law in self.laws[name])


def _same(got: tuple, want: tuple) -> bool:
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


def equations(pairs: list[tuple[tuple, list]]) -> list:
    """(observed, law) for each axis of each (checkpoint shape, candidate laws) pair of the same rank."""
    out = []
    for shape, laws in pairs:
        if len(shape) == len(laws):
            out += [(obs, law) for obs, law in zip(shape, laws) if law is not None and (law[1] or law[2])]
    return out


def _layer_choice(ck_layer: dict, cand: Candidate, at_x: dict | None) -> int:
    """The candidate layer most like this checkpoint layer: exact (name, shape) at the fitted values (at_x: layer
    -> inner name -> predicted shape), else shared names."""
    def agree(j):
        names = cand.tree.layers[j]
        common = [n for n in ck_layer if n in names]
        exact = sum(_same(ck_layer[n], at_x[j][n]) for n in common) if at_x else 0
        return exact, len(common) - 0.5 * (len(names) - len(common))
    return max(sorted(cand.tree.layers), key=agree)


def _kinds(ck: Tree) -> dict:
    """frozenset of a layer's (name, shape) -> the indices of the checkpoint's layers of that kind."""
    kinds: dict = {}
    for i in sorted(ck.layers):
        kinds.setdefault(frozenset(ck.layers[i].items()), []).append(i)
    return kinds


def fit_by_name(ck: Tree, cand: Candidate) -> Fit:
    pairs = [(shape, cand.laws[n]) for n, shape in ck.outside.items() if n in cand.laws]
    kinds = _kinds(ck)
    if cand.tree.layers:
        for indices in kinds.values():
            j = _layer_choice(ck.layers[indices[0]], cand, None)
            pairs += [(s, cand.layer_laws[j][n]) for n, s in ck.layers[indices[0]].items() if n in cand.layer_laws[j]]
    best, tried = None, []
    for reference in references(cand.entry):
        values, open_fields = solve(equations(pairs), cand.tiny, reference)
        if values in tried:  # the same values: the same fit (its prior already weighs every reference)
            continue
        tried.append(values)
        predicted, per_layer = _predicted(ck, cand, {**cand.tiny, **values}, kinds)
        fit = judge(ck.all_names, predicted, cand, {**cand.tiny, **values}, open_fields, ck.count,
                    per_layer=per_layer)
        if best is None or (fit.score, fit.prior) > (best.score, best.prior):
            best = fit
        if not open_fields:  # the shapes told every field: another reference cannot change the values
            break
    return best


def references(entry: dict) -> list[dict]:
    """The configurations a candidate is known at, whose values decide what the shapes leave open: its
    defaults (the released size) and archread's tiny form of them (what tiny test checkpoints are built at)."""
    return [entry["defaults"], entry["tiny_fields"]]


def _predicted(ck: Tree, cand: Candidate, x: dict, kinds: dict) -> tuple[dict, dict]:
    """(the candidate's tree at x, laid out as the checkpoint's layers; the per-layer fields that layout sets)."""
    predicted = {n: cand.shape_at(n, x) for n in cand.tree.outside}
    choice: dict = {}
    at_x: dict = {}
    if cand.tree.layers and ck.prefix == cand.tree.prefix:
        # one prediction per candidate layer and one choice per kind of checkpoint layer: a 100-layer
        # checkpoint costs what its few kinds of layer cost
        at_x = {j: {n: cand.shape_at(cand.tree.full(j, n), x) for n in t} for j, t in cand.tree.layers.items()}
        for indices in kinds.values():
            j = _layer_choice(ck.layers[indices[0]], cand, at_x)
            for i in indices:
                choice[i] = j
                predicted.update({ck.full(i, n): s for n, s in at_x[j].items()})
    return predicted, layer_config(cand.entry, choice, {j: frozenset(t.items()) for j, t in at_x.items()})


def judge(got: dict, predicted: dict, cand: Candidate, x: dict, open_fields: list, layers: int,
          renaming: dict | None = None, per_layer: dict | None = None) -> Fit:
    """The fit of a checkpoint's (possibly renamed) tensors against the candidate's predicted tree."""
    tied = [t for t, s in cand.entry["tied"].items() if t in predicted and t not in got and (s is None or s in got)]
    for t in tied:
        predicted.pop(t)
    matched = [n for n in got if n in predicted and _same(got[n], predicted[n])]
    mismatched = [f"{n}: checkpoint {tuple(got[n])}, candidate {tuple(predicted[n])}"
                  for n in got if n in predicted and not _same(got[n], predicted[n])]
    missing = [n for n in predicted if n not in got]
    unexpected = [n for n in got if n not in predicted]
    score = (2 * len(matched) + 0.5 * len(mismatched)) / max(1, len(got) + len(predicted))
    entry = cand.entry
    config = {"model_type": entry["model_type"]}
    if entry.get("layer_key") and layers:
        # the field counts layer modules, or a fixed multiple of them (Dory's num_hidden_layers counts both halves)
        tiny_layers, modules = entry["tiny_fields"].get(entry["layer_key"]), cand.tree.count
        per_module = tiny_layers // modules if type(tiny_layers) is int and modules and tiny_layers % modules == 0 else 1
        config[entry["layer_key"]] = layers * per_module
    config.update({f: v for f, v in x.items() if f in cand.tiny})
    config.update(counted_fields(cand, got))
    config.update(per_layer or {})
    if cand.entry["tied"] and "tie_word_embeddings" in entry["defaults"]:
        config["tie_word_embeddings"] = bool(tied)
    fit = Fit(entry["model_type"], score, config, missing, unexpected, mismatched, open_fields, tied,
              renaming=renaming, entry=entry)
    fit.prior = prior(fit, entry)
    return fit


def _counts(names, prefix: tuple) -> dict:
    """(path inside a layer up to a numbered component) -> how many numbers it takes (experts.0..7 -> 8)."""
    counts: dict = {}
    for name in names:
        parts = name.split(".")
        if tuple(parts[:len(prefix)]) != prefix or len(parts) <= len(prefix) + 1:
            continue
        inner = parts[len(prefix) + 1:]
        for i, part in enumerate(inner):
            if part.isdigit():
                counts.setdefault(tuple(inner[:i]), set()).add(part)
    return {path: len(numbers) for path, numbers in counts.items()}


def counted_fields(cand: Candidate, got: dict) -> dict:
    """The fields that decide how many of a numbered block a layer holds (experts), read from the checkpoint's
    count of that block: a field that changes which tensors exist, whose tiny value is the count of exactly one
    numbered block of the candidate."""
    prefix = cand.tree.prefix
    if prefix is None:
        return {}
    mine, theirs = _counts(cand.tensors, prefix), _counts(got, prefix)
    out = {}
    for name in cand.entry.get("structural", []):
        value = cand.entry["tiny_fields"].get(name)
        paths = [p for p, n in mine.items() if n == value]
        if type(value) is int and len(paths) == 1 and paths[0] in theirs:
            out[name] = theirs[paths[0]]
    return out


def prior(fit: Fit, entry: dict) -> float:
    """How well the fitted values keep the defaults' pattern (which sizes equal which; a tied head or not),
    then how close they are in size, against the closer of its references: what ranks candidates whose trees
    agree equally."""
    return max(_agreement(fit, reference, entry["tiny"]) for reference in references(entry))


def _agreement(fit: Fit, defaults: dict, fields: dict) -> float:
    sized = {f: v for f, v in fit.config.items() if f in fields and type(defaults.get(f)) is int and defaults[f] > 0}
    pattern = sum((defaults[a] == defaults[b]) != (sized[a] == sized[b]) for a in sized for b in sized if a < b)
    tie = 0
    if "tie_word_embeddings" in fit.config and isinstance(defaults.get("tie_word_embeddings"), bool):
        tie = fit.config["tie_word_embeddings"] != defaults["tie_word_embeddings"]
    distance = sum(abs(math.log(v / defaults[f])) for f, v in sized.items()) / max(1, len(sized))
    return -(pattern + 2 * tie) - 0.01 * distance
