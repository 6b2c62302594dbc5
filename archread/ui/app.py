"""The Textual app: a thin shell around the reader screen; its actions are in the command palette too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App, SystemCommand

from archread.errors import ArchreadError, one_line
from archread.parsers import Reduction
from archread.ui.first_paint import resume_collection
from archread.ui.screens.loading import LoadingScreen
from archread.ui.screens.reader import ReaderScreen


class ArchreadApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "archread"

    def __init__(self, reduced: Reduction | None = None, reference: Reduction | None = None, *,
                 pending: Callable[[], list[Reduction]] | None = None, what: str = "", config: Path | None = None,
                 notice: str = ""):
        """Either both reductions, or `pending`: a call that waits for them (the CLI's reducing children),
        run in a thread while a loading screen is already painted. config: a checkpoint's config.json, whose
        values the facts read. notice: shown once the reader opens (how a weights-only folder was fitted)."""
        super().__init__()
        self.notice = notice
        self.reduced, self.reference = reduced, reference
        self.pending, self.what, self.config = pending, what, config
        self.failure: str | None = None  # a reduction that failed: the CLI prints it and exits 2

    def on_mount(self) -> None:
        self.call_after_refresh(resume_collection)  # paused by the CLI until the first screen is painted
        if self.notice:
            self.notify(self.notice, title="archread fit", timeout=15)
        if self.pending is None:
            self.push_screen(ReaderScreen(self.reduced, self.reference, self.config))
            return
        self.push_screen(LoadingScreen(self.what))
        self.run_worker(self._await_reductions, thread=True, exclusive=True)

    def _await_reductions(self) -> None:
        try:
            reduced, reference = self.pending()
        except ArchreadError as exc:
            self.call_from_thread(self._reduction_failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - what archread never met (a configuration class's own check): one line
            self.call_from_thread(self._reduction_failed, f"{type(exc).__name__}: {one_line(exc)}")
            return
        self.call_from_thread(self._show_reader, reduced, reference)

    def _show_reader(self, reduced: Reduction, reference: Reduction) -> None:
        self.reduced, self.reference = reduced, reference
        self.switch_screen(ReaderScreen(reduced, reference, self.config))

    def _reduction_failed(self, message: str) -> None:
        self.failure = message
        self.exit(return_code=2)

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
            yield SystemCommand((binding.tooltip or binding.description).capitalize(), f"key: {binding.key}", call)
