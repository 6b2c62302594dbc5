"""The facts that differ from the reference; choosing one brings the line it is read from into view. A
label breaks only at spaces: the panel is never narrower than its longest word."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from archread.diff import FactDiff
from archread.diff.render import fact_value


def label(f: FactDiff, model: str, reference: str) -> Text:
    return Text.assemble((f.key, "bold"), "  ", (f"{model}: {fact_value(f.model)}", "green"), "  ",
                         (f"{reference}: {fact_value(f.reference)}", "red"),
                         (f"  when {f.when}" if getattr(f, "when", "") else "", "dim"))


class FactsPanel(OptionList):
    def __init__(self, differing: list[FactDiff], model: str, reference: str, **kwargs):
        super().__init__(**kwargs)
        self.set_facts(differing, model, reference)

    def set_facts(self, differing: list[FactDiff], model: str, reference: str) -> None:
        self.facts = differing
        self.border_title = f"{len(differing)} facts differ from {reference}"
        self.clear_options()
        labels = [label(f, model, reference) for f in differing]
        for text in labels:
            self.add_option(Option(text))
        if not differing:
            self.add_option(Option(Text("no fact differs", style="dim"), disabled=True))
        words = [len(w) for t in labels for w in t.plain.split()] or [16]
        self.styles.min_width = max(words) + 4  # borders and padding: no word is ever split
        self.widest = max((t.cell_len for t in labels), default=16) + 4
