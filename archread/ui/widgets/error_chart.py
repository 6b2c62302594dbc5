"""Per-layer error as horizontal bars on a log scale: the reduced model, and the original's own error."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


def _bar(value: float, lo: float, hi: float, width: int, style: str) -> Text:
    if not value or value != value:
        return Text("0 (exact)", style="dim")
    span = max(hi - lo, 1e-9)
    filled = max(1, round(width * (math.log10(value) - lo) / span))
    return Text("█" * filled, style=style) + Text(f" {value:.1e}", style="dim")


class ErrorChart(Static):
    def show(self, report) -> None:
        own = {b.name: b.rel_l2 for b in report.baseline}
        rows = report.layers + [report.logits]
        self.names = [e.name for e in rows]
        values = [e.rel_l2 for e in rows if e.rel_l2 and e.rel_l2 != float("inf")] + [v for v in own.values() if v]
        lo = math.floor(math.log10(min(values))) - 1 if values else -12
        hi = math.ceil(math.log10(max(values))) if values else 0
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        for e in rows:
            mark = " ◀ first divergence" if e.name == report.first_divergent else ""
            cell = _bar(e.rel_l2, lo, hi, 40, "red" if mark else "green") + Text(mark, style="bold red")
            if e.name in own:
                cell += Text("\n") + _bar(own[e.name], lo, hi, 40, "blue")
            table.add_row(e.name, cell)
        verdict = Text("MATCH" if report.match else f"MISMATCH at {report.first_divergent}",
                       style="bold green" if report.match else "bold red")
        self.update(_stack(verdict, Text(
            f"rel L2 per module vs the float32 original ({report.dtype}, {report.device}); log scale 1e{lo}…1e{hi}",
            style="dim"), table))


def _stack(*parts):
    grid = Table.grid()
    for p in parts:
        grid.add_row(p)
    return grid
