"""Two components' lines aligned as rows that face each other, in the normal form of `normal_form`.

Statements are matched as token streams, so layout never reads as a change; a row pairs a reference line
with a model line (either may be a gap). Consecutive changed statements make a hunk, the unit the reader
steps through, as in delta's and difftastic's side-by-side views.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from itertools import zip_longest

from archread.diff.normal_form import Statement, statements, whole_lines

PAIRED = 0.5  # how alike two changed statements must be (token ratio) to be marked span by span


@dataclass(frozen=True)
class Row:
    ref: int | None  # 1-based line within the reference component; None where the model's line faces a gap
    model: int | None
    changed: bool
    hunk: int | None = None


@dataclass
class Alignment:
    rows: list[Row] = field(default_factory=list)
    hunks: list[tuple[int, int]] = field(default_factory=list)  # [first row, last row + 1) of each hunk
    ref_changed: set[int] = field(default_factory=set)
    model_changed: set[int] = field(default_factory=set)
    ref_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # line -> changed columns
    model_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


def _parse(code: str, rename) -> list[Statement]:
    return (statements(code, rename) or whole_lines(code)) if code.strip() else []


def _ratio(a: Statement, b: Statement) -> float:
    x, y = a.key, b.key
    m = difflib.SequenceMatcher(a=x, b=y, autojunk=False)
    return m.ratio() if m.real_quick_ratio() >= PAIRED and m.quick_ratio() >= PAIRED else 0.0


def _pair_block(a: list[Statement], b: list[Statement]) -> list[tuple[Statement | None, Statement | None, bool]]:
    """A replaced block: the most alike statements paired in order (a small dynamic programme), the rest
    facing each other where they fall between the same pairs. (a, b, alike)."""
    n, m = len(a), len(b)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    ratio = {}
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            r = ratio[i, j] = _ratio(a[i], b[j]) if n * m <= 400 else 0.0
            score[i][j] = max(score[i + 1][j], score[i][j + 1], score[i + 1][j + 1] + r if r else 0.0)
    out, i, j, left, right = [], 0, 0, [], []

    def flush():
        out.extend((x, y, False) for x, y in zip_longest(left, right))
        left.clear()
        right.clear()
    while i < n or j < m:
        r = ratio.get((i, j), 0.0)
        if i < n and j < m and r and score[i][j] == score[i + 1][j + 1] + r:
            flush()
            out.append((a[i], b[j], True))
            i, j = i + 1, j + 1
        elif i < n and (j >= m or score[i][j] == score[i + 1][j]):
            left.append(a[i])
            i += 1
        else:
            right.append(b[j])
            j += 1
    flush()
    return out


def _lines(s: Statement | None) -> tuple[list[int], list[int]]:
    """(the blank and comment lines above the statement, its own lines)."""
    if s is None:
        return [], []
    own = s.tokens[0].start[0] if s.tokens else s.first
    return list(range(s.first, own)), list(range(own, s.last + 1))


def _spans(a: Statement, b: Statement, result: Alignment) -> None:
    """The tokens that differ between two alike statements, as columns of the lines they stand on."""
    ka, kb = [t.key for t in a.tokens], [t.key for t in b.tokens]
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(a=ka, b=kb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        for tokens, spans in ((a.tokens[a0:a1], result.ref_spans), (b.tokens[b0:b1], result.model_spans)):
            for t in tokens:
                end = t.end[1] if t.end[0] == t.start[0] else 10**6
                spans.setdefault(t.start[0], []).append((t.start[1], end))


def align(ref_code: str, model_code: str, rename=lambda name: name) -> Alignment:
    """Rows pairing ref_code's lines with model_code's; the model's names compare through rename."""
    a, b = _parse(ref_code, lambda name: name), _parse(model_code, rename)
    units: list[tuple[Statement | None, Statement | None, bool]] = []  # (ref, model, changed)
    matcher = difflib.SequenceMatcher(a=[s.key for s in a], b=[s.key for s in b], autojunk=False)
    result = Alignment()
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            units += [(x, y, False) for x, y in zip(a[a0:a1], b[b0:b1])]
            continue
        for x, y, alike in _pair_block(a[a0:a1], b[b0:b1]):
            units.append((x, y, True))
            if alike:
                _spans(x, y, result)
    hunk, previous_changed = -1, False
    for x, y, changed in units:
        (pre_a, own_a), (pre_b, own_b) = _lines(x), _lines(y)
        if changed:
            if not previous_changed:
                hunk += 1
                result.hunks.append((len(result.rows), len(result.rows)))
            result.ref_changed.update(own_a)
            result.model_changed.update(own_b)
        for ra, rb in zip_longest(pre_a, pre_b):
            result.rows.append(Row(ra, rb, False, hunk if changed else None))
        for ra, rb in zip_longest(own_a, own_b):
            result.rows.append(Row(ra, rb, changed, hunk if changed else None))
        if changed:
            result.hunks[-1] = (result.hunks[-1][0], len(result.rows))
        previous_changed = changed
    return result


def unified(alignment: Alignment, ref_lines: list[str], model_lines: list[str], ref_first: int, model_first: int,
            ref_name: str, model_name: str, context: int = 2) -> list[str]:
    """The alignment as a unified diff with the real names on each side, line numbers of the files."""
    if not alignment.hunks:
        return []
    out = [f"--- {ref_name}", f"+++ {model_name}"]
    rows = alignment.rows
    windows: list[list[int]] = []
    for start, end in alignment.hunks:  # hunks whose context would overlap print as one
        lo, hi = max(0, start - context), min(len(rows), end + context)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        window = rows[lo:hi]
        ref_no = [r.ref for r in window if r.ref is not None]
        model_no = [r.model for r in window if r.model is not None]
        out.append(f"@@ -{ref_first + ref_no[0] - 1 if ref_no else 0},{len(ref_no)} "
                   f"+{model_first + model_no[0] - 1 if model_no else model_first},{len(model_no)} @@")
        minus: list[str] = []
        plus: list[str] = []
        for r in window:
            if r.changed:
                minus += [f"-{ref_lines[r.ref - 1]}"] if r.ref is not None else []
                plus += [f"+{model_lines[r.model - 1]}"] if r.model is not None else []
                continue
            out += minus + plus
            minus, plus = [], []
            if r.model is not None:
                out.append(f" {model_lines[r.model - 1]}")
        out += minus + plus
    return out
