"""Align two reduced models by component role and compare their facts. No torch, no textual."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from archread.diff.hunks import Row, align, unified
from archread.diff.normal_form import renamer
from archread.parsers import Reduction
from archread.parsers.components import Component, components, counterpart, prefix_of_code
from archread.parsers.config_defaults import Default, config_file, read_config_json, read_defaults
from archread.parsers.facts import Fact, facts
from archread.parsers.source import release_of, transformers_root

NEW_FAMILIES = {"moe", "mla", "mixer", "layers"}  # facts a reference without them has no key for


@dataclass(frozen=True)
class FactDiff:
    key: str
    model: object
    reference: object
    model_line: int | None
    reference_line: int | None
    where: str = ""
    when: str = ""  # the condition under which the model's value holds (a per-layer choice)

    def to_json(self) -> dict:
        out = {"key": self.key, "model": self.model, "reference": self.reference,
               "model_line": self.model_line, "reference_line": self.reference_line, "where": self.where}
        if self.when:
            out["when"] = self.when
        return out


@dataclass
class ComponentDiff:
    part: Component
    other: Component | None
    model_changed: set[int] = field(default_factory=set)  # 1-based lines within the component
    reference_changed: set[int] = field(default_factory=set)
    model_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # line -> changed columns
    reference_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    unified: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # reference and model lines facing each other
    hunks: list[tuple[int, int]] = field(default_factory=list)  # row ranges of each run of changes

    @property
    def changed(self) -> bool:
        return bool(self.hunks)

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


def transformers_release() -> str | None:
    """The installed transformers' version, read off its tree (no import)."""
    root = transformers_root()
    return release_of(root / "models" / "llama" / "modeling_llama.py") if root else None


def _base_tie(path: Path) -> Default:
    """What a configuration that declares no tie_word_embeddings holds: 4.x's PretrainedConfig defaults it to True
    (GPT-2, OPT, BLOOM tie through it); 5.x's tying reads it with getattr(config, ..., False)."""
    release = release_of(path) or transformers_release() or "5"
    tied = int(release.split(".")[0]) < 5
    return Default(tied, f"PretrainedConfig's default in transformers {release}")


def config_for(reduction: Reduction, config_json: Path | None = None) -> dict[str, Default]:
    """The configuration's defaults, read statically, overlaid by a given config.json."""
    path = config_file(reduction.source.path)
    values = read_defaults(path, reduction.source.model_type) if path else {}
    if path and "tie_word_embeddings" not in values:
        values["tie_word_embeddings"] = _base_tie(reduction.source.path)
    if config_json is not None:
        values = {**values, **read_config_json(config_json)}
    return values


def facts_of(reduction: Reduction, config_json: Path | None = None) -> list[Fact]:
    return facts(reduction.code, config_for(reduction, config_json), reduction.autocast_off)


def _line_diff(part: Component, other: Component | None, prefix: str, to: str) -> ComponentDiff:
    """Both sides in one normal form (statements as token streams, the model's prefix renamed to the
    reference's for comparing only): rows that face each other, hunks, and the changed spans."""
    theirs = other.code if other else ""
    a = align(theirs, part.code, renamer(prefix, to))
    result = ComponentDiff(part, other, a.model_changed, a.ref_changed, a.model_spans, a.ref_spans,
                           rows=a.rows, hunks=a.hunks)
    result.unified = unified(a, theirs.splitlines(), part.code.splitlines(), other.line if other else 1, part.line,
                             other.name if other else "(none)", part.name)
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
        if other is None and f.key.split(".")[0] in NEW_FAMILIES:  # a family the reference lacks (MoE, MLA, mixers)
            differing.append(FactDiff(f.key, f.value, None, f.line, None, f.where, f.when))
        elif other is not None and other.value != f.value:
            differing.append(FactDiff(f.key, f.value, other.value, f.line, other.line, f.where, f.when))
    prefix, to = prefix_of_code(model.code), prefix_of_code(reference.code)
    aligned = [_line_diff(p, counterpart(p, ref_parts), prefix, to) for p in parts]
    return ArchDiff(model.source.label, reference.source.label, mine, theirs, differing, aligned,
                    time.perf_counter() - start)
