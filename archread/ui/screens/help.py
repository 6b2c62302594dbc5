"""Every binding of the reader, with what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def __init__(self, bindings: list[Binding]):
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan")
        table.add_column()
        for b in self.bindings:
            table.add_row(b.key.replace("question_mark", "?").replace("slash", "/"), b.description)
        table.add_row("ctrl+p", "command palette: the same actions by name")
        with Vertical(id="panel"):
            yield Static("archread — keys", id="dialog-title")
            yield Static(table)
            yield Static("Left: components by role. Middle: the reduced model and the reference's aligned component, "
                         "changed lines marked and the changed spans within them highlighted. Right: the facts that differ — enter jumps to where each is read.",
                         id="help-text")
