"""What the reader shows while the reductions finish in their child processes: the screen paints at once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static


class LoadingScreen(Screen):
    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="loading"):  # no header: it would still be mounting when the reader replaces this
            yield Static(f"archread: reducing {self.what} …", id="loading-text")
            yield LoadingIndicator()
