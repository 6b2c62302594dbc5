"""Modal dialogs: an error, a one-line prompt, and a panel of results (verify chart, lint findings)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Static


class ErrorDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss", "close")]

    def __init__(self, title: str, message: str):
        super().__init__()
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error"):
            yield Static(self.title_text, id="dialog-title")
            yield Static(self.message, id="dialog-message")
            yield Button("OK", variant="error", id="ok")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()


class Prompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss", "cancel")]

    def __init__(self, label: str, value: str = "", empty: str | None = None):
        """empty: what an empty answer returns (None: the same as escape)."""
        super().__init__()
        self.label, self.value, self.empty = label, value, empty

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.label, id="dialog-title")
            yield Input(value=self.value, id="prompt")
            yield Static("enter answers, escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or self.empty)


class Panel(ModalScreen[None]):
    """A titled, scrollable result; escape closes it."""

    BINDINGS = [Binding("escape,q", "dismiss", "close")]

    def __init__(self, title: str, body: Widget):
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(f"{self.title_text} (escape closes)", id="dialog-title")
            with VerticalScroll():
                yield self.body
