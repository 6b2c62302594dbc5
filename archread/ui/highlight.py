"""Python source to a Rich Text with a line-number gutter, changed lines marked and changed spans within them.

Built on the standard tokenizer rather than Pygments: the reader paints two of these at start-up, and
Pygments' Python lexer alone costs more to compile its patterns than the whole first layout."""

from __future__ import annotations

import io
import keyword
import tokenize

from rich.text import Text

STYLES = {"keyword": "bold magenta", "string": "green", "number": "cyan", "comment": "dim italic",
          "builtin": "cyan", "definition": "bold yellow", "decorator": "yellow", "self": "italic"}
CHANGED_LINE = "on #16301c"  # the model's changed lines (plus side)
CHANGED_SPAN = "bold on #2c6e3a"
REMOVED_LINE = "on #3a1a1a"  # the reference's (minus side)
REMOVED_SPAN = "bold on #8a2a2a"
_BUILTINS = frozenset(("len", "range", "zip", "enumerate", "getattr", "setattr", "hasattr", "isinstance", "super",
                       "min", "max", "sum", "int", "float", "tuple", "list", "dict", "None", "True", "False"))
_FSTRING = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}


def _token_style(kind: int, text: str, previous: str) -> str | None:
    if kind == tokenize.NAME:
        if previous in ("def", "class"):
            return STYLES["definition"]
        if keyword.iskeyword(text) and text not in ("None", "True", "False"):
            return STYLES["keyword"]
        if text in _BUILTINS:
            return STYLES["builtin"]
        return STYLES["self"] if text == "self" else None
    if kind == tokenize.STRING or kind in _FSTRING:
        return STYLES["string"]
    if kind == tokenize.NUMBER:
        return STYLES["number"]
    if kind == tokenize.COMMENT:
        return STYLES["comment"]
    if kind == tokenize.OP and text == "@" and previous in ("", "\n"):
        return STYLES["decorator"]
    return None


def _styled_spans(code: str) -> list[tuple[int, int, int, int, str]]:
    """(start row, start col, end row, end col, style) of each token that has a style; none if it does not tokenize."""
    spans, previous = [], ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            style = _token_style(tok.type, tok.string, previous)
            if style:
                spans.append((*tok.start, *tok.end, style))
            if tok.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.NL):
                previous = tok.string
    except (tokenize.TokenError, SyntaxError):
        return []
    return spans


def highlight_lines(code: str, changed: set[int] = frozenset(), spans: dict[int, list[tuple[int, int]]] | None = None,
                    side: str = "model") -> list[Text]:
    """One styled Text per line of code; `changed` and `spans` keyed by the 1-based line within code. The
    reference's changes are marked red, the model's green (as a diff's minus and plus sides)."""
    lines = code.splitlines()
    bodies = [Text(line) for line in lines]
    for row0, col0, row1, col1, style in _styled_spans(code):
        for row in range(row0, row1 + 1):
            if row <= len(bodies):
                start = col0 if row == row0 else 0
                end = col1 if row == row1 else len(lines[row - 1])
                bodies[row - 1].stylize(style, start, end)
    line_style, span_style = (CHANGED_LINE, CHANGED_SPAN) if side == "model" else (REMOVED_LINE, REMOVED_SPAN)
    for n in changed:
        if n <= len(bodies):
            bodies[n - 1].stylize(line_style)
            for start, end in (spans or {}).get(n, ()):
                bodies[n - 1].stylize(span_style, start, end)
    return bodies
