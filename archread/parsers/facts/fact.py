"""One architecture fact: a key, its value, and where in the reduced source (or the configuration) it was read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str
    value: object
    line: int | None  # line in the reduced source
    where: str = ""  # where a config-derived value came from (configuration file:line), or a note
    when: str = ""  # the condition under which the value holds (a per-layer choice), empty when always

    def to_json(self) -> dict:
        out = {"key": self.key, "value": self.value, "line": self.line, "where": self.where}
        if self.when:
            out["when"] = self.when
        return out
