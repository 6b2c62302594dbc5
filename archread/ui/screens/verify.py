"""verify from the reader: runs in a worker (tiny config — the checkpoint's, shrunk, when the reader has one —
random weights, CPU) and charts the error per layer."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.containers import Vertical
from textual.widgets import LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from archread.errors import ArchreadError
from archread.parsers import Reduction
from archread.ui.screens.dialogs import ErrorDialog, Panel
from archread.ui.widgets.error_chart import ErrorChart


class VerifyScreen(Panel):
    def __init__(self, reduced: Reduction, config: Path | None = None):
        chart = ErrorChart(id="chart")
        running = Static("running the reduction and the original on a tiny configuration with random weights…",
                         id="verify-running")
        super().__init__(f"verify {reduced.source.label} (float32, cpu)", Vertical(running, LoadingIndicator(), chart))
        self.chart, self.reduced, self.config, self.report = chart, reduced, config, None

    def on_mount(self) -> None:
        self._verify()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def _verify(self) -> None:
        try:
            from archread.runtime.verify import verify

            report = verify(str(self.reduced.source.path), config=self.config, reduction=self.reduced)
        except ArchreadError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, report)

    def _done(self, report) -> None:
        self.query_one(LoadingIndicator).display = self.query_one("#verify-running").display = False
        self.chart.show(report)
        self.report = report

    def _failed(self, message: str) -> None:
        self.dismiss()
        self.app.push_screen(ErrorDialog("verify failed", message))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._failed(f"{type(event.worker.error).__name__}: {event.worker.error}")
