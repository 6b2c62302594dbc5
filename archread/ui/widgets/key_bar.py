"""The keys of a screen on one line, as many as the width holds: the essentials first (next, previous,
search, help, quit), then the rest in their order; `?` lists them all.

A plain Static rather than Textual's Footer: the Footer builds a widget per binding and restyles them all on
every layout, which at start-up cost more than the rest of the reader's first paint together."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

KEY_NAMES = {"slash": "/", "question_mark": "?", "N": "N", "P": "P"}
ESSENTIAL = ("n", "p", "slash", "question_mark", "q")


def key_name(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k, k) for k in key.split(","))


def fit(bindings: list[Binding], width: int) -> Text:
    """The bindings that fit in width cells: the essentials always (as far as they fit), then the others
    in their order; shown in the bindings' order."""
    def cost(b: Binding) -> int:
        return len(key_name(b.key)) + len(b.description) + 4
    chosen, used = set(), 0
    ranked = sorted(range(len(bindings)), key=lambda i: (bindings[i].key not in ESSENTIAL, i))
    for i in ranked:
        if used + cost(bindings[i]) <= width:
            chosen.add(i)
            used += cost(bindings[i])
    text = Text(no_wrap=True, overflow="crop", end="")
    for i, b in enumerate(bindings):
        if i in chosen:
            text.append(f" {key_name(b.key)} ", style="bold reverse")
            text.append(f" {b.description} ")
    return text


class KeyBar(Static):
    def __init__(self, bindings: list[Binding], **kwargs):
        super().__init__(**kwargs)
        self.bindings = [b for b in bindings if b.show] + [Binding("ctrl+p", "", "commands")]

    def on_resize(self) -> None:
        self.update(fit(self.bindings, self.size.width))

    def on_mount(self) -> None:
        self.update(fit(self.bindings, self.size.width or 80))
