"""Layout: what one line holds (`WIDTH`), a statement's lines flattened or packed, and how many lines the
format pass will give a statement (`height`), which the inline pass measures before it joins two."""

from __future__ import annotations

import dataclasses
import re

import libcst as cst

from archread.parsers.fastcst import code_of, transform, walk

WIDTH = 119  # the line length transformers itself uses
_OPERATORS = (cst.CompFor, cst.CompIf, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseAugOp, cst.AssignEqual, cst.Colon)
_TIGHT_FIELDS = {"whitespace_before_args", "whitespace_before_params", "whitespace_after_star", "whitespace_after_arg", "whitespace_after_param", "whitespace_after_star_star"}


_WHITESPACE_FIELDS: dict[type, tuple[str, ...]] = {}


def _whitespace_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that can hold a line break inside brackets (libcst names them whitespace_*)."""
    names = _WHITESPACE_FIELDS.get(kind)
    if names is None:
        names = _WHITESPACE_FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind) if f.name.startswith("whitespace"))
    return names


class Flatten(cst.CSTTransformer):
    """Turn line breaks inside brackets into single spaces (or nothing) and drop trailing commas."""

    def on_leave(self, original, updated):
        updated = super().on_leave(original, updated)
        if not isinstance(updated, cst.CSTNode):
            return updated
        changes = {}
        for name in _whitespace_fields(type(updated)):
            if type(getattr(updated, name)) is cst.ParenthesizedWhitespace:
                changes[name] = cst.SimpleWhitespace(self._gap(updated, name))
        return updated.with_changes(**changes) if changes else updated

    @staticmethod
    def _gap(node: cst.CSTNode, field: str) -> str:
        if isinstance(node, _OPERATORS) or (isinstance(node, cst.Comma) and field == "whitespace_after"):
            return " "
        if field in ("whitespace_before", "whitespace_after") or field in _TIGHT_FIELDS:
            return ""
        return " "  # around a keyword: `if`, `else`, `for`, `in`, `lambda`

    def leave_Call(self, original, updated):
        return updated.with_changes(args=_untrail(updated.args))

    def leave_Parameters(self, original, updated):
        if updated.star_kwarg is not None:
            return updated.with_changes(star_kwarg=updated.star_kwarg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        if updated.kwonly_params:
            return updated.with_changes(kwonly_params=_untrail(updated.kwonly_params))
        if isinstance(updated.star_arg, cst.Param):
            return updated.with_changes(star_arg=updated.star_arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        return updated.with_changes(params=_untrail(updated.params))

    def leave_List(self, original, updated):
        return updated.with_changes(elements=_untrail(updated.elements))

    def leave_Dict(self, original, updated):
        return updated.with_changes(elements=_untrail(updated.elements))

    def leave_Tuple(self, original, updated):
        return updated.with_changes(elements=_untrail(updated.elements)) if len(updated.elements) > 1 else updated

    def leave_ImportFrom(self, original, updated):
        if isinstance(updated.names, cst.ImportStar):
            return updated
        return updated.with_changes(names=_untrail(updated.names), lpar=None, rpar=None)


def _untrail(items):
    items = list(items)
    if items and hasattr(items[-1], "comma"):
        items[-1] = items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return items


def one_line(node: cst.CSTNode, indent: int) -> cst.CSTNode:
    if not any(isinstance(n, cst.ParenthesizedWhitespace) for n in walk(node, layout=True)):
        return node
    flat = transform(node, Flatten())
    head = code_of(flat).strip("\n")
    if isinstance(flat, cst.BaseCompoundStatement):
        head = head.split("\n", 1)[0]
    elif "\n" in head:
        return node
    if indent + len(head) <= WIDTH:
        return flat
    return _hug(flat, indent) or node


def height(stmt: cst.SimpleStatementLine, indent: int, text: str | None = None) -> int | None:
    """How many lines the layout gives a statement (whose code the caller may have); None where it would have
    to leave a line too long."""
    flat, text = stmt, (code_of(stmt) if text is None else text).strip("\n")
    if "\n" in text:  # flattening is a whole visit: the text joined as it would join first, if it can say
        if '"""' not in text and "'''" not in text and "\\\n" not in text and indent + len(joined(text)) <= WIDTH:
            return 1
        flat = transform(stmt, Flatten())
        text = code_of(flat).strip("\n")
    if "\n" not in text and indent + len(text) <= WIDTH:
        return 1
    laid = _hug(flat, indent)
    return None if laid is None else code_of(laid).strip("\n").count("\n") + 1


_LINE_BREAK = re.compile(r"([(\[{]?)[ \t]*\n\s*([)\]}]?)")


def joined(text: str) -> str:
    """A bracketed statement's lines joined as Flatten joins them, trailing commas kept: never narrower."""
    return _LINE_BREAK.sub(lambda m: m[1] + m[2] if m[1] or m[2] else " ", text.strip())


def _break(extra: str) -> cst.ParenthesizedWhitespace:
    return cst.ParenthesizedWhitespace(indent=True, last_line=cst.SimpleWhitespace(extra))


def _hug(flat: cst.CSTNode, indent: int) -> cst.CSTNode | None:
    """A statement ending in one call too long for a line: the arguments follow on as few lines as fit,
    `)` ending the last. Other values too long go in brackets on the next line, if they fit there."""
    if not isinstance(flat, cst.SimpleStatementLine) or len(flat.body) != 1:
        return None
    small = flat.body[0]
    call = getattr(small, "value", None)
    if isinstance(call, (cst.List, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp)):
        return _hug_brackets(flat, small, call, indent)
    value, call = call, _tail_call(call)
    if call is None:
        return _next_line(flat, small, indent)
    first = code_of(small.with_changes(value=_swap_tail(value, call, call.with_changes(args=[])))).strip()[:-1]
    args = _fill(call.args, indent)
    if args is None or indent + len(first) > WIDTH:
        return _next_line(flat, small, indent)
    hugged = call.with_changes(whitespace_before_args=_break("    "), args=args)
    return flat.with_changes(body=[small.with_changes(value=_swap_tail(value, call, hugged))])


def _tail_call(value):
    """The call with arguments a value ends in, through the right operands of unbracketed operations
    (`h + self.attn(x, mask)`); None if it ends otherwise."""
    while type(value) is cst.BinaryOperation and not value.lpar:
        value = value.right
    return value if type(value) is cst.Call and value.args and not value.lpar else None


def _swap_tail(value, call, new):
    return new if value is call else value.with_changes(right=_swap_tail(value.right, call, new))


def _next_line(flat, small, indent: int):
    """`x = (` then the whole value on the next line: a conditional or a method chain that fits there."""
    value = getattr(small, "value", None)
    if not isinstance(value, cst.BaseExpression):
        return None
    bare = value.with_changes(lpar=[], rpar=[])
    if indent + 4 + len(code_of(bare).strip()) + 1 > WIDTH:
        return None
    opened = bare.with_changes(lpar=[cst.LeftParen(whitespace_after=_break("    "))], rpar=[cst.RightParen()])
    return flat.with_changes(body=[small.with_changes(value=opened)])


def _hug_brackets(flat, small, value, indent: int):
    """`x = [` then the elements (or the comprehension) on as few lines as fit, `]` ending the last."""
    head = code_of(small.with_changes(value=cst.List([]))).strip()[:-1]
    if indent + len(head) > WIDTH:
        return None
    bracket = value.lbracket if hasattr(value, "lbracket") else value.lbrace
    opened = bracket.with_changes(whitespace_after=_break("    "))
    if isinstance(value, (cst.List, cst.Dict)):
        elements = _fill(value.elements, indent) if value.elements else None
        if elements is None:
            return None
        hugged = value.with_changes(**{"lbracket" if hasattr(value, "lbracket") else "lbrace": opened}, elements=elements)
    else:
        inner = code_of(value).strip()[1:-1].strip()
        if indent + 4 + len(inner) + 1 > WIDTH:
            return None
        hugged = value.with_changes(**{"lbracket" if hasattr(value, "lbracket") else "lbrace": opened})
    return flat.with_changes(body=[small.with_changes(value=hugged)])


def _fill(items, indent: int):
    """Arguments (or parameters) packed greedily onto lines of the continuation indent; None if one alone
    is too wide."""
    items = list(items)
    texts = [code_of(i.with_changes(comma=cst.MaybeSentinel.DEFAULT)).strip() for i in items]
    room = WIDTH - indent - 4
    if any(len(t) + 2 > room for t in texts):
        return None
    out, used = [], 0
    for i, (item, text) in enumerate(zip(items, texts)):
        width = len(text) + (2 if used else 0)
        if used and used + width + (1 if i == len(items) - 1 else 1) > room:
            out[-1] = out[-1].with_changes(comma=cst.Comma(whitespace_after=_break("    ")))
            used, width = 0, len(text)
        elif out:
            out[-1] = out[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        out.append(item.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        used += width
    return out


def fill_header(flat: cst.FunctionDef, indent: int) -> cst.FunctionDef | None:
    """`def f(` then the parameters packed onto as few lines as fit, `):` ending the last."""
    params = flat.params
    if params.kwonly_params or params.posonly_params or isinstance(params.star_arg, cst.Param):
        return None
    items = list(params.params) + ([params.star_kwarg] if isinstance(params.star_kwarg, cst.Param) else [])
    filled = _fill(items, indent)
    if not filled or len(f"def {flat.name.value}(") + indent > WIDTH:
        return None
    if isinstance(params.star_kwarg, cst.Param):  # `**kwargs` was packed last; the comma before it is set
        params = params.with_changes(params=filled[:-1], star_kwarg=filled[-1])
    else:
        params = params.with_changes(params=filled)
    return flat.with_changes(params=params, whitespace_before_params=_break("    "))
