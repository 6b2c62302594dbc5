"""Align two reduced models by component role and compare their facts. No torch, no textual."""

from __future__ import annotations

import difflib
import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from archread.parsers import Reduction
from archread.parsers.components import Component, components, counterpart, prefix_of_code
from archread.parsers.config_defaults import Default, config_file, read_config_json, read_defaults
from archread.parsers.facts import Fact, facts


@dataclass(frozen=True)
class FactDiff:
    key: str
    model: object
    reference: object
    model_line: int | None
    reference_line: int | None
    where: str = ""

    def to_json(self) -> dict:
        return {"key": self.key, "model": self.model, "reference": self.reference,
                "model_line": self.model_line, "reference_line": self.reference_line, "where": self.where}


@dataclass
class ComponentDiff:
    part: Component
    other: Component | None
    model_changed: set[int] = field(default_factory=set)  # 1-based lines within the component
    reference_changed: set[int] = field(default_factory=set)
    model_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # line -> changed columns
    reference_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    unified: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.model_changed or self.reference_changed)

    def to_json(self) -> dict:
        return {"role": self.part.role, "name": self.part.name, "line": self.part.line,
                "reference": self.other.name if self.other else None, "changed": self.changed, "diff": self.unified}


@dataclass
class ArchDiff:
    model: str
    reference: str
    model_facts: list[Fact]
    reference_facts: list[Fact]
    differing: list[FactDiff]
    components: list[ComponentDiff]
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"model": self.model, "reference": self.reference,
                "facts": {f.key: f.to_json() for f in self.model_facts},
                "reference_facts": {f.key: f.to_json() for f in self.reference_facts},
                "differing": [d.to_json() for d in self.differing],
                "components": [c.to_json() for c in self.components]}


def config_for(reduction: Reduction, config_json: Path | None = None) -> dict[str, Default]:
    """The configuration's defaults, read statically, overlaid by a given config.json."""
    path = config_file(reduction.source.path)
    values = read_defaults(path, reduction.source.model_type) if path else {}
    if config_json is not None:
        values = {**values, **read_config_json(config_json)}
    return values


def facts_of(reduction: Reduction, config_json: Path | None = None) -> list[Fact]:
    return facts(reduction.code, config_for(reduction, config_json))


_WORD = re.compile(r"\d[\w.]*(?:[eE][-+]\d+)?|\w+|\s+|[^\w\s]")


def _columns(tokens: list[str]) -> list[int]:
    """The column at which each token starts, and the line's length last."""
    return [0, *itertools.accumulate(len(t) for t in tokens)]


def _span_diff(theirs: str, normalised: str, shown: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The changed columns of a line pair, token by token. The model's line is compared in its normalised
    form (its prefix renamed to the reference's) but shown as written; renaming keeps the tokens one for one."""
    a, b, c = _WORD.findall(theirs), _WORD.findall(normalised), _WORD.findall(shown)
    if len(b) != len(c):
        return [(0, len(theirs))], [(0, len(shown))]
    at, ct = _columns(a), _columns(c)
    ref_spans, model_spans = [], []
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            if a1 > a0:
                ref_spans.append((at[a0], at[a1]))
            if b1 > b0:
                model_spans.append((ct[b0], ct[b1]))
    return ref_spans, model_spans


def _line_diff(part: Component, other: Component | None) -> ComponentDiff:
    theirs = other.code.splitlines() if other else []
    mine, shown = part.normalised.splitlines(), part.code.splitlines()
    result = ComponentDiff(part, other)
    matcher = difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            result.reference_changed.update(range(a0 + 1, a1 + 1))
            result.model_changed.update(range(b0 + 1, b1 + 1))
        if tag == "replace" and len(shown) == len(mine):  # pair the lines in order: spans within each pair
            for i, j in zip(range(a0, a1), range(b0, b1)):
                result.reference_spans[i + 1], result.model_spans[j + 1] = _span_diff(theirs[i], mine[j], shown[j])
    if result.changed:
        result.unified = list(difflib.unified_diff(theirs, mine, other.name if other else "(none)", part.name, lineterm=""))
    return result


def diff_models(model: Reduction, reference: Reduction, config_json: Path | None = None) -> ArchDiff:
    start = time.perf_counter()
    ref_parts = components(reference.code)
    parts = components(model.code, rename_to=prefix_of_code(reference.code))
    mine, theirs = facts_of(model, config_json), facts_of(reference)
    by_key = {f.key: f for f in theirs}
    differing = []
    for f in mine:
        other = by_key.get(f.key)
        if other is not None and other.value != f.value:
            differing.append(FactDiff(f.key, f.value, other.value, f.line, other.line, f.where))
    aligned = [_line_diff(p, counterpart(p, ref_parts)) for p in parts]
    return ArchDiff(model.source.label, reference.source.label, mine, theirs, differing, aligned,
                    time.perf_counter() - start)
