"""The reader's diff as screen lines for one width: side by side (reference left, model right, rows facing
each other, gaps filled) or unified (the reference's changed lines, then the model's). Long lines wrap; a
continuation row shows ↪ in its gutter, so no line is ever cut. Pure: no widget, so tests read it directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from archread.diff import ArchDiff, ComponentDiff
from archread.ui.highlight import highlight_lines

CONTINUED = "↪"
GAP = "on grey7"
SEPARATOR = "│"


@dataclass
class Lines:
    """What the view shows, and where things are in it (indices into `lines`)."""
    lines: list[Text] = field(default_factory=list)
    component_of: list[int] = field(default_factory=list)  # component shown on each line
    component_start: dict[int, int] = field(default_factory=dict)
    hunk_start: dict[tuple[int, int], int] = field(default_factory=dict)  # (component, hunk) -> its first line
    model_line: dict[int, int] = field(default_factory=dict)  # line of the reduced module (of the original, in its view) -> first screen line
    reference_line: dict[int, int] = field(default_factory=dict)
    code_width: int = 0  # the width each line of code wraps at

    def add(self, text: Text, component: int) -> None:
        self.lines.append(text)
        self.component_of.append(component)


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _inside_token(plain: str, i: int, chains: bool = True) -> bool:
    """Would a break before plain[i] split a name, a dotted name or a number (`hidden_size`, `torch.float32`, `1e-6`)?"""
    before, after = plain[i - 1], plain[i]
    if _word(before) and _word(after):
        return True
    if (before in "\"'" and _word(after)) or (_word(before) and after in "\"'"):
        return True  # a string's quotes stay with its text ("masked_bias", never `"` | `masked_bias"`)
    if chains and ((before == "." and _word(after)) or (after == "." and _word(before) and not before.isdigit())):
        return True  # an attribute chain (`torch.float32`, `self.weight`) reads as one name
    number = i >= 2 and plain[i - 2].isdigit()
    return (after == "." and before.isdigit()) or (before == "." and after.isdigit() and number) or (
        after in "+-" and before in "eE" and number)


def _cut(plain: str, at: int, width: int) -> int:
    """Where the piece starting at `at` ends: after the last space, else after the last comma, else at the last
    token boundary (never inside a name or number) in the piece's second half; a name longer than half the
    width is kept whole where the piece has room before it; else at the width."""
    end = at + width
    half = at + width // 2
    space = plain.rfind(" ", half, end)
    if space > at:
        return space + 1
    comma = plain.rfind(",", half, end - 1)
    if comma > at:
        return comma + 1
    for chains, floor in ((True, half), (False, half), (False, at + 1)):  # a dotted name split only if it must
        for i in range(end, floor - 1, -1):
            if not _inside_token(plain, i, chains) and plain[i] not in ")]},:":
                return i
    return end


def wrap(body: Text, width: int) -> list[Text]:
    """body in pieces of at most width cells, broken at token boundaries (see _cut); every character kept, in
    order."""
    width = max(width, 4)
    plain, pieces, at = body.plain, [], 0
    while len(plain) - at > width:
        cut = _cut(plain, at, width)
        pieces.append(body[at:cut])
        at = cut
    pieces.append(body[at:])
    return pieces


class Bodies:
    """The highlighted lines of every component, once: layout changes re-wrap them, never re-highlight."""

    def __init__(self, diff: ArchDiff):
        self.ref: list[list[Text]] = []
        self.model: list[list[Text]] = []
        for c in diff.components:
            self.model.append(highlight_lines(c.part.code, c.model_changed, c.model_spans, "model"))
            code = c.other.code if c.other else ""
            self.ref.append(highlight_lines(code, c.reference_changed, c.reference_spans, "reference"))


def _gutter(mark: str, number: int | None, digits: int, first: bool, changed_style: str) -> Text:
    if number is None:
        return Text(" " * (digits + 2))
    if not first:
        return Text(f" {CONTINUED:>{digits}} ", style="bold cyan")
    return Text(f"{mark}{number:>{digits}} ", style=changed_style if mark != " " else "dim")


def _rule(parts: list[tuple[str, str]], width: int) -> Text:
    text = Text.assemble(("── ", "dim"), *parts, no_wrap=True, end="")
    text.append(" ")
    if text.cell_len > width:
        text.truncate(width - 1)
        text.append("…")
    return text + Text("─" * (width - text.cell_len), style="dim")


def _heading(c: ComponentDiff, model: str, reference: str, width: int, halves: int = 0) -> Text:
    """The component's rule: its role and both names; with halves, the reference's name over the left column
    and the model's over the right."""
    other = (f"{reference}: ", "dim"), ((c.other.name, "bold") if c.other else ("no counterpart", "italic"))
    mine = (f"{model}: ", "dim"), (c.part.name, "bold"), (f" · {'changed' if c.changed else 'same'}", "dim")
    role = (c.part.role, "bold cyan"), (" · ", "dim")
    if halves:
        return _rule([*role, *other], halves) + Text("┬", style="dim") + _rule(list(mine), width - halves - 1)
    return _rule([*role, *mine, (" ↔ ", "dim"), *other], width)


def side_by_side(diff: ArchDiff, bodies: Bodies, width: int, digits: int, model: str, reference: str) -> Lines:
    gutter = digits + 2
    code = max((width - 1 - 2 * gutter) // 2, 8)
    out = Lines(code_width=code)
    for ci, c in enumerate(diff.components):
        out.component_start[ci] = len(out.lines)
        out.add(_heading(c, model, reference, width, gutter + code), ci)
        for row in c.rows:
            if row.hunk is not None and (ci, row.hunk) not in out.hunk_start:
                out.hunk_start[ci, row.hunk] = len(out.lines)
            left = wrap(bodies.ref[ci][row.ref - 1], code) if row.ref else []
            right = wrap(bodies.model[ci][row.model - 1], code) if row.model else []
            ref_no = c.other.line + row.ref - 1 if row.ref and c.other else None
            model_no = c.part.line + row.model - 1 if row.model else None
            if model_no is not None:
                out.model_line.setdefault(model_no, len(out.lines))
            if ref_no is not None:
                out.reference_line.setdefault(ref_no, len(out.lines))
            changed = row.changed
            for i in range(max(len(left), len(right), 1)):
                line = Text(no_wrap=True, end="")
                line += _gutter("-" if changed else " ", ref_no if i < len(left) else None, digits, i == 0, "bold red")
                line += _cell(left, i, code, row.ref is None)
                line.append(SEPARATOR, style="dim")
                line += _gutter("+" if changed else " ", model_no if i < len(right) else None, digits, i == 0,
                                "bold green")
                line += _cell(right, i, code, row.model is None)
                out.add(line, ci)
    return out


def _cell(pieces: list[Text], i: int, width: int, gap: bool) -> Text:
    if i < len(pieces):
        piece = pieces[i].copy()
        piece.pad_right(width - piece.cell_len)
        return piece
    return Text(" " * width, style=GAP if gap else "")


def unified(diff: ArchDiff, bodies: Bodies, width: int, digits: int, model: str, reference: str) -> Lines:
    code = max(width - digits - 2, 8)
    out = Lines(code_width=code)

    def emit(ci: int, mark: str, number: int, body: Text, style: str) -> None:
        for i, piece in enumerate(wrap(body, code)):
            line = Text(no_wrap=True, end="")
            line += _gutter(mark, number, digits, i == 0, style)
            line += piece
            out.add(line, ci)

    for ci, c in enumerate(diff.components):
        out.component_start[ci] = len(out.lines)
        out.add(_heading(c, model, reference, width), ci)
        minus: list[tuple[int, Text]] = []
        plus: list[tuple[int, Text]] = []

        def flush(ci=ci):
            for number, body in minus:
                out.reference_line.setdefault(number, len(out.lines))
                emit(ci, "-", number, body, "bold red")
            for number, body in plus:
                out.model_line.setdefault(number, len(out.lines))
                emit(ci, "+", number, body, "bold green")
            minus.clear()
            plus.clear()
        for row in c.rows:
            if row.hunk is not None and (ci, row.hunk) not in out.hunk_start:
                flush()
                out.hunk_start[ci, row.hunk] = len(out.lines)
            if row.changed:
                if row.ref and c.other:
                    minus.append((c.other.line + row.ref - 1, bodies.ref[ci][row.ref - 1]))
                if row.model:
                    plus.append((c.part.line + row.model - 1, bodies.model[ci][row.model - 1]))
                continue
            flush()
            if row.model:
                number = c.part.line + row.model - 1
                out.model_line.setdefault(number, len(out.lines))
                emit(ci, " ", number, bodies.model[ci][row.model - 1], "dim")
        flush()
    return out


def original(lines: list[tuple[str, str | None]], width: int) -> Lines:
    """The original file: kept lines plain, each removed or rewritten line dimmed with the pass that did it."""
    digits = len(str(len(lines)))
    out = Lines(code_width=max(width - digits - 2, 8))
    for n, (line, removed_by) in enumerate(lines, 1):
        out.model_line[n] = len(out.lines)  # the original's line n: where its first row is (rows wrap)
        body = Text(line, style="dim strike" if removed_by else "")
        if removed_by:
            body.append(f"  ← {removed_by}", style="italic yellow")
        for i, piece in enumerate(wrap(body, out.code_width)):
            row = Text(no_wrap=True, end="")
            row += _gutter(" ", n, digits, i == 0, "dim")
            row += piece
            out.add(row, 0)
    return out
