"""A scrolling pane of Python: syntax-highlighted with changed lines marked, or the original source with
what each pass removed dimmed and labelled."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from archread.ui.highlight import highlight


class CodePane(VerticalScroll):
    def __init__(self, title: str, **kwargs):
        super().__init__(**kwargs)
        self.border_title = title
        self.body = Static()
        self.code = ""
        self.text = Text()  # what the pane shows
        self.mode = "reduced"

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, code: str, changed: set[int], first_line: int = 1,
             spans: dict[int, list[tuple[int, int]]] | None = None) -> None:
        """code numbered from first_line; changed lines (and spans within them) keyed by line within code."""
        self.code, self.mode = code, "reduced"
        self.text = highlight(code or "# no counterpart", changed, spans, first_line)
        self.body.update(self.text)
        self.scroll_home(animate=False)

    def show_attributed(self, lines: list[tuple[str, str | None]]) -> None:
        """The original file: kept lines plain, removed lines dimmed with the pass that removed them."""
        text = Text(no_wrap=True)
        width = len(str(len(lines)))
        for n, (line, removed_by) in enumerate(lines, 1):
            text.append(f"{n:>{width}} ", style="dim")
            if removed_by:
                text.append(line, style="dim strike")
                text.append(f"  ← {removed_by}", style="italic yellow")
            else:
                text.append(line)
            text.append("\n")
        self.code, self.mode, self.text = "\n".join(line for line, _ in lines), "original", text
        self.body.update(text)
        self.scroll_home(animate=False)

    def scroll_to_line(self, line: int) -> None:
        """Bring line (1-based within what the pane shows) near the top."""
        self.scroll_to(y=max(0, line - 3), animate=False)
