"""The Textual app: a thin shell around the reader screen; its actions are in the command palette too."""

from __future__ import annotations

from textual.app import App, SystemCommand

from archread.parsers import Reduction
from archread.ui.screens.reader import ReaderScreen


class ArchreadApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "archread"

    def __init__(self, reduced: Reduction, reference: Reduction):
        super().__init__()
        self.reduced, self.reference = reduced, reference

    def on_mount(self) -> None:
        self.push_screen(ReaderScreen(self.reduced, self.reference))

    @property
    def reader(self) -> ReaderScreen:
        return next(s for s in self.screen_stack if isinstance(s, ReaderScreen))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in ReaderScreen.BINDINGS:
            if binding.action.startswith("app."):
                continue
            name, _, arg = binding.action.partition("(")
            action = getattr(self.reader, f"action_{name}")
            call = (lambda a=action, v=int(arg.rstrip(")")): a(v)) if arg else action
            yield SystemCommand(binding.description.capitalize(), f"key: {binding.key}", call)
