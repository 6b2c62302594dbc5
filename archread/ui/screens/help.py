"""Every key of the reader, with what it does, and how the screen reads."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from archread.ui.widgets.key_bar import key_name

LAYOUT = ("The model's reduced code faces the reference's (reference left, model right), component by "
          "component, each row pairing lines that correspond; a gap is shaded. Changed lines are marked - (the "
          "reference's) and + (the model's), the tokens that differ brighter. Layout never counts as a change: "
          "both sides compare as token streams. A long line wraps; its continuation shows ↪. Below 100 columns "
          "the diff is unified (s switches); below 140 the components (t) and facts (f) are panels you toggle.")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def __init__(self, keys: list[tuple[str, str]]):
        """keys: (key as Textual names it, what it does), every one the reader answers to."""
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2), expand=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in self.keys:
            table.add_row(key_name(key), what)
        with Vertical(id="panel"):
            yield Static("archread — keys (escape closes)", id="dialog-title")
            with VerticalScroll():
                yield Static(table)
                yield Static(LAYOUT, id="help-text")
