"""The reader: components on the left, the reduced model beside the reference's aligned component."""

from __future__ import annotations

import difflib

from rich.syntax import Syntax
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static, Tree

from archread.parsers import Reduction
from archread.parsers.components import Component, components, counterpart


class CodePane(VerticalScroll):
    def __init__(self, title: str, **kwargs):
        super().__init__(**kwargs)
        self.border_title = title
        self.body = Static()
        self.code = ""

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, code: str, changed: set[int]) -> None:
        syntax = Syntax(code or "# no counterpart", "python", line_numbers=True, word_wrap=False,
                        highlight_lines=changed, theme="ansi_dark")
        self.code = code
        self.body.update(syntax)
        self.scroll_home(animate=False)


class ArchreadApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "archread"
    BINDINGS = [
        Binding("n", "step(1)", "next difference"),
        Binding("p", "step(-1)", "previous difference"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, reduced: Reduction, reference: Reduction):
        super().__init__()
        self.reduced, self.reference = reduced, reference
        self.parts = components(reduced.code)
        self.ref_parts = components(reference.code)
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            tree = Tree(f"{self.reduced.source.model_type}", id="components")
            for part in self.parts:
                tree.root.add_leaf(f"{part.role}: {part.name}", data=part)
            tree.root.expand()
            yield tree
            yield CodePane(self.reduced.source.label, id="model")
            yield CodePane(f"{self.reference.source.label}", id="reference")
        s = self.reduced
        yield Static(Text(f" {s.source.path}  ·  transformers {s.source.release or '?'}  ·  "
                          f"{s.original_lines} → {s.reduced_lines} lines  ·  against {self.reference.source.model_type}"),
                     id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.select(0)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if isinstance(event.node.data, Component):
            self.select(self.parts.index(event.node.data))

    def action_step(self, delta: int) -> None:
        differing = [i for i, p in enumerate(self.parts) if self._diff(p)[2]] or list(range(len(self.parts)))
        after = [i for i in differing if (i - self.index) * delta > 0]
        target = (after[0] if delta > 0 else after[-1]) if after else differing[0 if delta > 0 else -1]
        self.select(target)

    def _diff(self, part: Component):
        other = counterpart(part, self.ref_parts)
        theirs = other.code if other else ""
        matcher = difflib.SequenceMatcher(a=theirs.splitlines(), b=part.normalised.splitlines(), autojunk=False)
        mine_changed, theirs_changed = set(), set()
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag != "equal":
                theirs_changed.update(range(a0 + 1, a1 + 1))
                mine_changed.update(range(b0 + 1, b1 + 1))
        return theirs, mine_changed, theirs_changed

    def select(self, index: int) -> None:
        if not self.parts:
            return
        self.index = index
        part = self.parts[index]
        theirs, mine_changed, theirs_changed = self._diff(part)
        self.query_one("#model", CodePane).show(part.code, mine_changed)
        self.query_one("#reference", CodePane).show(theirs, theirs_changed)
        self.sub_title = f"{part.role}: {part.name}"
