"""Shared state of one reduction: what each pass removed and what it warned about."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from archread.parsers.fastcst import code_of


def lines_of(node: cst.CSTNode) -> int:
    return sum(1 for line in code_of(node).splitlines() if line.strip())


@dataclass
class PassContext:
    removed: Counter = field(default_factory=Counter)  # pass name -> non-blank lines removed
    warnings: list[str] = field(default_factory=list)
    origin: dict[int, tuple[cst.CSTNode, str]] = field(default_factory=dict)  # literal -> knockout pass
    imported: dict[str, str] = field(default_factory=dict)  # dropped import name -> its module
    folder: Path | None = None  # the modeling file's folder: its configuration file may hold a helper it calls
    call_graph: tuple | None = None  # (module, its call graph): built by `signatures`, reused by `returns`
    config: dict | None = None  # the configuration's values (its defaults, or `reduce --config`): attribute -> value
    defaults: bool = False  # `config` holds the configuration file's defaults, not a checkpoint's values
    root: str | None = None  # the model class a remote-code repo names (auto_map, or read off its code); else found by roots()
    assumed: dict = field(default_factory=dict)  # a field a folded branch read -> (its value, top-level definitions that read it)
    autocast_off: list = field(default_factory=list)  # Class.method whose autocast-off block `autocast` folded to its body
    # configuration field -> the value the reading took and the original is built with: the one that keeps the
    # optional kernels off, or where the defaults leave no runnable LM (runnable_defaults) the one the code needs
    torch_path: dict = field(default_factory=dict)
    # names imported under a kernel probe that folded (`if is_flash_attn_2_available(): from flash_attn import f`):
    # where the finished reduction still reads one (a backend class that had to stay), it is None, as here
    absent_kernels: set = field(default_factory=set)

    def remove(self, pass_name: str, node: cst.CSTNode) -> None:
        self.removed[pass_name] += lines_of(node)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def mark(self, literal: cst.CSTNode, pass_name: str) -> cst.CSTNode:
        """Remember which pass turned an expression into this literal, to credit what folding removes."""
        self.origin[id(literal)] = (literal, pass_name)
        return literal

    def origin_of(self, *nodes: cst.CSTNode) -> str | None:
        for node in nodes:
            hit = self.origin.get(id(node))
            if hit is not None and hit[0] is node:
                return hit[1]
        return None
