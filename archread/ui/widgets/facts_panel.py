"""The facts that differ from the reference; choosing one jumps both panes to where it is read."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from archread.diff import FactDiff
from archread.diff.render import fact_value


class FactsPanel(OptionList):
    def __init__(self, differing: list[FactDiff], reference: str, **kwargs):
        super().__init__(**kwargs)
        self.border_title = f"differs from {reference}"
        self.set_facts(differing, reference)

    def set_facts(self, differing: list[FactDiff], reference: str) -> None:
        self.facts = differing
        self.border_title = f"{len(differing)} facts differ from {reference}"
        self.clear_options()
        for f in differing:
            label = Text.assemble((f.key, "bold"), "  ", (fact_value(f.model), "green"), "  ", (fact_value(f.reference), "red"),
                                  (f"  when {f.when}" if f.when else "", "dim"))
            self.add_option(Option(label))
        if not differing:
            self.add_option(Option(Text("no fact differs", style="dim"), disabled=True))
