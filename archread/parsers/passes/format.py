"""Layout: short statements on one line, no blank lines inside functions, PEP 8 spacing between defs."""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.layout import Flatten, fill_header, one_line
from archread.parsers.analysis.rewrite import StatementTransformer
from archread.parsers.fastcst import transform, walk
from archread.parsers.passes.base import StripPass


class _Layout(StatementTransformer):  # every layout change is a statement's
    def __init__(self):
        super().__init__()
        self.depth = 0

    def visit_IndentedBlock(self, node):
        self.depth += 1

    def leave_IndentedBlock(self, original, updated):
        self.depth -= 1
        if not updated.body:
            return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        updated = one_line(updated, 4 * self.depth)
        return updated.with_changes(leading_lines=[])

    def leave_If(self, original, updated):
        test = one_line(cst.SimpleStatementLine([cst.Expr(updated.test)]), 4 * self.depth + 4)
        return updated.with_changes(test=test.body[0].value, leading_lines=[])

    def leave_FunctionDef(self, original, updated):
        header = updated.with_changes(body=cst.SimpleStatementSuite([cst.Pass()]), decorators=[], leading_lines=[])
        flat = one_line(header, 4 * self.depth)
        if flat is header and any(isinstance(n, cst.ParenthesizedWhitespace) for n in walk(header.params, layout=True)):
            flat = fill_header(transform(header, Flatten()), 4 * self.depth) or header
        return updated.with_changes(params=flat.params, whitespace_before_params=flat.whitespace_before_params)

    def leave_ClassDef(self, original, updated):
        body = [s.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if i and isinstance(s, cst.FunctionDef) else [])
                for i, s in enumerate(updated.body.body)]
        return updated.with_changes(body=updated.body.with_changes(body=body))

    def leave_For(self, original, updated):
        return updated.with_changes(leading_lines=[])

    def leave_With(self, original, updated):
        return updated.with_changes(leading_lines=[])

    def leave_Module(self, original, updated):
        body = []
        for i, stmt in enumerate(updated.body):
            spaced = i and (isinstance(stmt, (cst.ClassDef, cst.FunctionDef)) or not isinstance(updated.body[i - 1], cst.SimpleStatementLine))
            body.append(stmt.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2 if spaced else []))
        return updated.with_changes(body=body, header=[], footer=[])


class Format(StripPass):
    NAME = "format"
    DESCRIPTION = "Short statements joined onto one line; blank lines only between definitions."
    STRIP = [
        ("def f(\n    x,\n    y,\n):\n    return g(\n        x,\n        y,\n    )\n", "def f(x, y):\n    return g(x, y)\n"),
        (  # too long for one line: a conditional on the next, a dict's entries packed
            "def f(self, config):\n    self.q_a_proj = (\n        nn.Linear(config.hidden_size, config.q_lora_rank, bias=False)\n"
            "        if config.q_lora_rank is not None\n        else None\n    )\n    kwargs = {\n        \"config\": self.config,\n"
            "        \"inputs_embeds\": inputs_embeds,\n        \"attention_mask\": attention_mask,\n"
            "        \"position_ids\": position_ids,\n        \"past_key_values\": None,\n    }\n",
            "def f(self, config):\n    self.q_a_proj = (\n"
            "        nn.Linear(config.hidden_size, config.q_lora_rank, bias=False) if config.q_lora_rank is not None else None)\n"
            "    kwargs = {\n        \"config\": self.config, \"inputs_embeds\": inputs_embeds, \"attention_mask\": attention_mask,\n"
            "        \"position_ids\": position_ids, \"past_key_values\": None}\n",
        ),
    ]
    KEEP = ["def f(x):\n    return x\n"]

    def leave_Module(self, original, updated):
        return transform(updated, _Layout())
