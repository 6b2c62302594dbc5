"""The whole model against the reference, component by component, in the width the terminal gives: side by
side or unified; re-wrapped when the width changes. Scrolling says which component is on top. Line by line
(Textual's line API): only the rows in view are rendered, so a long model costs no more to paint than a short one."""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from archread.diff import ArchDiff
from archread.ui import diff_lines
from archread.ui.diff_lines import Bodies, Lines

SEARCH_HIT = "bold black on yellow"


class DiffView(ScrollView, can_focus=True):
    class TopChanged(Message):
        """The component at the top of the view is another one (the reader retitles)."""

        def __init__(self, component: int):
            super().__init__()
            self.component = component

    def __init__(self, diff: ArchDiff, model: str, reference: str, **kwargs):
        super().__init__(**kwargs)
        self.mode = "side"  # or "unified", or "original"
        self.query_text = ""
        self.attribution: list[tuple[str, str | None]] | None = None
        self.screen_lines = Lines()
        self._strips: dict[int, Strip] = {}  # screen line -> its rendering, until the next rebuild or search
        self._width = 0
        self._top = -1
        self.model = model
        self.set_diff(diff, reference)

    def set_diff(self, diff: ArchDiff, reference: str) -> None:
        self.diff, self.reference, self.bodies = diff, reference, Bodies(diff)
        last = max((c.part.line + len(c.part.code.splitlines()) for c in diff.components), default=1)
        last = max([last, *(c.other.line + len(c.other.code.splitlines()) for c in diff.components if c.other)])
        self.digits = len(str(last))
        self._width = 0
        if self.is_mounted:
            self.rebuild()

    def set_mode(self, mode: str) -> None:
        self.mode, self._width = mode, 0
        self.rebuild()

    def on_resize(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return
        self._width = width
        if self.mode == "original" and self.attribution is not None:
            lines = diff_lines.original(self.attribution, width)
        elif self.mode == "unified":
            lines = diff_lines.unified(self.diff, self.bodies, width, self.digits, self.model, self.reference)
        else:
            lines = diff_lines.side_by_side(self.diff, self.bodies, width, self.digits, self.model, self.reference)
        self.screen_lines = lines
        self._paint()

    def _paint(self) -> None:
        self._strips = {}
        self.virtual_size = Size(self._width, len(self.screen_lines.lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        n = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if n >= len(self.screen_lines.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(n)
        if strip is None:
            line = self.screen_lines.lines[n]
            if self.query_text:
                line = line.copy()
                line.highlight_words([self.query_text], SEARCH_HIT, case_sensitive=False)
            strip = self._strips[n] = Strip(line.render(self.app.console), line.cell_len)
        blank = Style(bgcolor=self.rich_style.bgcolor)  # what a short line is padded with: the background only
        return strip.apply_style(self.rich_style).crop_extend(0, width, blank)

    # --- where things are ---------------------------------------------------------------------------
    def go_to(self, line: int) -> None:
        """Bring screen line `line` near the top, with two lines of what comes before. Again once the layout has
        caught up: lines just rebuilt are not yet scrollable to (the scroll would stop at the old end)."""
        self._scroll_when_laid_out(max(0, line - 2), 20)

    def _scroll_when_laid_out(self, y: int, tries: int) -> None:
        self.scroll_to(y=y, animate=False, immediate=True)
        if self.max_scroll_y < y and tries:
            self.call_after_refresh(self._scroll_when_laid_out, y, tries - 1)

    def matches(self, text: str) -> list[int]:
        """Screen lines holding text (case-insensitive)."""
        needle = text.lower()
        return [n for n, line in enumerate(self.screen_lines.lines) if needle in line.plain.lower()]

    def search(self, text: str) -> None:
        self.query_text = text
        self._paint()

    def top_component(self) -> int:
        of = self.screen_lines.component_of
        return of[min(int(self.scroll_y) + 2, len(of) - 1)] if of else 0

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.mode != "original":
            top = self.top_component()
            if top != self._top:
                self._top = top
                self.post_message(self.TopChanged(top))
