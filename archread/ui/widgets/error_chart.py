"""Per-layer error as horizontal bars on a log scale: the reduced model, and the original's own error; above
them the setup the verdict was reached under (configuration values, sequence, seed, tolerance, padded batch).
An error of exactly 0 has no logarithm: it is drawn as an empty bar labelled exact, and a run where every error
is 0 says so in one line instead of a scale."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

BAR = 40
SIZES = ("_size", "_layers", "_heads", "head_dim", "_experts", "_window", "_tok")  # the config values shown


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def scale(values: list[float]) -> tuple[int, int] | None:
    """Decades (lo, hi) spanning the positive finite values, at least one apart; None when there are none."""
    logs = [math.log10(v) for v in values if _finite(v) and v > 0]
    if not logs:
        return None
    lo, hi = math.floor(min(logs)) - 1, math.ceil(max(logs))
    return lo, max(hi, lo + 1)


def bar(value: float, decades: tuple[int, int] | None, style: str) -> Text:
    if not _finite(value):
        return Text(f"{value} (not finite)", style="bold red")
    if value <= 0 or decades is None:
        return Text("· 0 (exact)", style="dim")
    lo, hi = decades
    filled = max(1, round(BAR * (math.log10(value) - lo) / (hi - lo)))
    return Text("█" * filled, style=style) + Text(f" {value:.1e}", style="dim")


def setup_lines(report) -> list[str]:
    """What the verdict was reached under, from the report's own setup."""
    setup = report.setup or {}
    tol = setup.get("tolerance", {})
    out = [f"{report.dtype} on {report.device}; batch {setup.get('batch', '?')} × {setup.get('seq_len', '?')} "
           f"tokens, seed {setup.get('seed', '?')}; tolerance: {tol.get('rule', 'not stated')}"]
    padded = setup.get("padding")
    if report.padded is not None:
        out.append(f"{padded or 'padded batch'}: max_abs {report.padded.max_abs:.1e}, rel L2 {report.padded.rel_l2:.1e}")
    else:
        out.append(padded or "padded batch: not checked")
    sizes = {k: v for k, v in sorted(setup.get("config", {}).items())
             if isinstance(v, int) and not isinstance(v, bool) and k.endswith(SIZES)}
    if sizes:
        out.append("config: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    return out


class ErrorChart(Static):
    def show(self, report) -> None:
        own = {b.name: b.rel_l2 for b in report.baseline}
        rows = report.layers + [report.logits]
        self.names = [e.name for e in rows]
        decades = scale([e.rel_l2 for e in rows] + list(own.values()))
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        for e in rows:
            mark = " ◀ first divergence" if e.name == report.first_divergent else ""
            cell = bar(e.rel_l2, decades, "red" if mark else "green") + Text(mark, style="bold red")
            if e.name in own:
                cell += Text("\n") + bar(own[e.name], decades, "blue")
            table.add_row(e.name, cell)
        verdict = Text("MATCH" if report.match else f"{report.verdict} at {report.first_divergent}: {report.reason or ''}",
                       style="bold green" if report.match else "bold red")
        if decades is None:
            legend = f"every one of the {len(rows)} modules equals the float32 original exactly (rel L2 0)"
        else:
            legend = (f"rel L2 per module vs the float32 original, log scale 1e{decades[0]}…1e{decades[1]}: "
                      "green reduced" + (f", blue the original in {report.dtype}" if own else ""))
        self.text = "\n".join([verdict.plain, *setup_lines(report), legend])  # what a test reads
        self.update(_stack(verdict, *(Text(line, style="dim") for line in setup_lines(report)),
                           Text(legend, style="italic"), table))


def _stack(*parts):
    grid = Table.grid()
    for p in parts:
        grid.add_row(p)
    return grid
