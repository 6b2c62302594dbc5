"""One normal form for both sides of a diff: a component's statements as token streams with layout ignored.

A statement wrapped over three lines and its one-line twin tokenize the same once line breaks, comments,
the parentheses that only carry a wrap, a trailing comma and the spelling of a literal (`'x'`/`"x"`, `1.`/`1.0`)
are set aside; indentation stays, since in Python it is meaning. The model's prefix is renamed to the
reference's only in the key compared (`NemotronMLP` compares as `LlamaMLP`); what is shown keeps its real name.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
from dataclasses import dataclass

_SKIP = {tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
         tokenize.ENCODING}
_OPEN, _CLOSE = {"(": ")", "[": "]", "{": "}"}, {")", "]", "}"}


@dataclass(frozen=True)
class Token:
    key: str  # the token as compared
    start: tuple[int, int]  # (1-based row, column) in the shown code
    end: tuple[int, int]


@dataclass(frozen=True)
class Statement:
    """One logical line: the physical lines first..last (1-based, the blank and comment lines above it
    included) and its tokens, layout set aside."""
    first: int
    last: int
    depth: int
    tokens: tuple[Token, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return (str(self.depth), *(t.key for t in self.tokens))


def renamer(prefix: str, to: str):
    """NAME -> its compared form: identifiers starting with the model's prefix (NemotronMLP, Nemotron_x)
    take the reference's."""
    if not prefix or prefix == to:
        return lambda name: name

    def rename(name: str) -> str:
        rest = name[len(prefix):]
        return to + rest if name.startswith(prefix) and (rest[:1].isupper() or rest.startswith("_")) else name
    return rename


def _literal(kind: int, text: str) -> str:
    """A string or number in one spelling; f-strings and what does not evaluate stay as written."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return f"{type(value).__name__}:{value!r}" if kind == tokenize.NUMBER else repr(value)


def _drop_layout_commas(tokens: list[Token]) -> list[Token]:
    """A comma just before a closing bracket is layout (a formatter's 'magic' trailing comma) except where it
    makes a one-element tuple: `(x,)` keeps it, `f(x,)` and `[a, b,]` do not."""
    out: list[Token] = []
    opens: list[tuple[int, bool]] = []  # (index in out of the opener, whether it opens a call or subscript)
    for tok in tokens:
        if tok.key in _OPEN:
            before = out[-1].key if out else ""
            called = before in _CLOSE or (before.isidentifier() and not keyword.iskeyword(before))
            opens.append((len(out), called))
        elif tok.key in _CLOSE and opens:
            at, called = opens.pop()
            if out and out[-1].key == "," and len(out) - 1 > at:
                inside = [t.key for t in out[at + 1:-1]]
                tuple_of_one = out[at].key == "(" and not called and "," not in _top_level(inside)
                if not tuple_of_one:
                    out.pop()
        out.append(tok)
    return out


def _top_level(keys: list[str]) -> list[str]:
    depth, top = 0, []
    for k in keys:
        if k in _OPEN:
            depth += 1
        elif k in _CLOSE:
            depth -= 1
        elif depth == 0:
            top.append(k)
    return top


def _drop_wrapping_parens(tokens: list[Token]) -> list[Token]:
    """`return (a + b)` and `x = (a + b)` wrapped by a formatter read as `return a + b`: parentheses around
    everything after `return`/`=` that hold no top-level comma (which would make them a tuple)."""
    keys = [t.key for t in tokens]
    starts = [i + 1 for i, k in enumerate(keys) if k in ("return", "=") and i + 1 < len(keys) and keys[i + 1] == "("]
    for start in starts:
        depth = 0
        for j in range(start, len(keys)):
            depth += keys[j] in _OPEN
            depth -= keys[j] in _CLOSE
            if depth == 0:
                break
        inner = keys[start + 1:j]
        if j == len(keys) - 1 and inner and "," not in _top_level(inner) and "yield" not in inner[:1]:
            return tokens[:start] + tokens[start + 1:j]
    return tokens


def statements(code: str, rename=lambda name: name) -> list[Statement]:
    """The logical lines of code; [] when it does not tokenize (the caller falls back to whole lines)."""
    out: list[Statement] = []
    pending: list[Token] = []
    depth, first = 0, 1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.INDENT:
                depth += 1
            elif tok.type == tokenize.DEDENT:
                depth -= 1
            elif tok.type == tokenize.NEWLINE:
                if pending:
                    cleaned = _drop_wrapping_parens(_drop_layout_commas(pending))
                    out.append(Statement(first, tok.start[0], depth, tuple(cleaned)))
                pending, first = [], tok.start[0] + 1
            elif tok.type not in _SKIP:
                if tok.type == tokenize.NAME:
                    key = rename(tok.string)
                elif tok.type in (tokenize.STRING, tokenize.NUMBER):
                    key = _literal(tok.type, tok.string)
                else:
                    key = tok.string
                pending.append(Token(key, tok.start, tok.end))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    if pending:  # code without a final newline
        out.append(Statement(first, pending[-1].end[0], depth, tuple(pending)))
    return out


def whole_lines(code: str) -> list[Statement]:
    """Each physical line one statement keyed by its text: for code that does not tokenize."""
    return [Statement(n, n, 0, (Token(line.strip(), (n, 0), (n, len(line))),))
            for n, line in enumerate(code.splitlines(), 1) if line.strip()]
