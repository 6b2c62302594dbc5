"""The result of reducing a modeling file (kept apart from the pipeline so reading a cached one stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field

from archread.parsers.source import Source


@dataclass
class Reduction:
    source: Source
    code: str
    original_lines: int  # non-blank, as the reduced count
    reduced_lines: int
    removed: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    file_lines: int = 0  # every line of the original, blank ones too: the size the file is quoted by
    roots: list[str] = field(default_factory=list)
    lenders: dict[str, str] = field(default_factory=dict)  # other files read (modeling, configuration) -> digest of their text
    assumed: dict = field(default_factory=dict)  # configuration field -> the value the folded branches read
    autocast_off: list = field(default_factory=list)  # Class.method computed with autocast off (the plumbing folded)
    torch_path: dict = field(default_factory=dict)  # configuration field -> the value the reading took that the original is built with
    read_with: list = field(default_factory=list)  # why a field was read off its default (runnable_defaults)
    repaired: dict = field(default_factory=dict)  # those fields -> [default, value read, why]: tiny.on_runnable_values
