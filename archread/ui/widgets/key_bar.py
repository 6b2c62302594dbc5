"""The keys of a screen on one line, as a plain Static.

Textual's Footer builds a widget per binding and restyles them all on every layout: at start-up it cost
more than the rest of the reader's first paint together. The keys are the same; ctrl+p lists them as
commands."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

_KEY_NAMES = {"slash": "/", "question_mark": "?"}


class KeyBar(Static):
    def __init__(self, bindings: list[Binding], **kwargs):
        text = Text(no_wrap=True, overflow="ellipsis")
        for b in [*bindings, Binding("ctrl+p", "", "commands")]:
            text.append(f" {_KEY_NAMES.get(b.key, b.key)} ", style="bold reverse")
            text.append(f" {b.description}  ")
        super().__init__(text, **kwargs)
