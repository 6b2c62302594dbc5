"""The reader: the reduced model against the reference's aligned components, in the width the terminal gives.
n/p step through every changed hunk of every changed or new component in file order; the title names the
component and hunk. Below 140 columns the component tree (t) and the facts (f) are panels you toggle; below
100 the diff is unified (s switches)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static, Tree
from textual.worker import Worker, WorkerState

from archread.diff import ArchDiff, diff_models
from archread.errors import ArchreadError
from archread.parsers import Reduction, resolve
from archread.parsers.cache import reduce_cached
from archread.ui.screens.dialogs import ErrorDialog, Prompt
from archread.ui.screens.reader_tools import ReaderTools
from archread.ui.widgets.diff_view import DiffView
from archread.ui.widgets.facts_panel import FactsPanel
from archread.ui.widgets.key_bar import KeyBar

WIDE, UNIFIED_BELOW, TALL = 140, 100, 30
HEADER_TAKES = 18 + len("archread — ")  # the header's icon and clock space, and the app's title before ours


def fit_parts(parts: list[str], width: int) -> str:
    """The parts joined by ' · ', dropping the last ones (the least important) until they fit; the first is
    always kept (the status line ends it with an ellipsis if it alone is too wide)."""
    shown = list(parts)
    while len(shown) > 1 and len(" · ".join(shown)) > width:
        shown.pop()
    return " · ".join(shown)


def short_path(path: Path) -> str:
    """The path from the transformers package on (the same on every machine), else the file name."""
    parts = path.parts
    return "/".join(parts[parts.index("transformers"):]) if "transformers" in parts else path.name


class ReaderScreen(ReaderTools, Screen):
    BINDINGS = [
        Binding("n", "step(1)", "next", tooltip="next changed hunk (every changed or new component, file order)"),
        Binding("p", "step(-1)", "prev", tooltip="previous changed hunk"),
        Binding("slash", "search", "search", tooltip="search both sides"),
        Binding("N", "match(1)", "next match", tooltip="next search match"),
        Binding("P", "match(-1)", "prev match", tooltip="previous search match"),
        Binding("s", "layout", "side/unified", tooltip="side by side or unified diff"),
        Binding("t", "tree", "tree", tooltip="show or hide the component tree (enter jumps)"),
        Binding("f", "facts", "facts", tooltip="show or hide the facts that differ (enter jumps to where read)"),
        Binding("r", "reference", "reference", tooltip="another reference: a model type or a modeling file"),
        Binding("o", "original", "original", tooltip="the original source, every removed line labelled by pass"),
        Binding("l", "lint", "lint", tooltip="lint the config.json next to the file (or one you name, or the defaults)"),
        Binding("v", "verify", "verify", tooltip="run the reduced model against the original, error per layer"),
        Binding("question_mark", "help", "help", tooltip="this list"),
        Binding("q", "app.quit", "quit", tooltip="quit"),
    ]

    def __init__(self, reduced: Reduction, reference: Reduction, config: Path | None = None):
        """config: the checkpoint's config.json the model was reduced for; the facts and verify read it too."""
        super().__init__()
        self.reduced, self.reference, self.config = reduced, reference, config
        self.diff: ArchDiff = diff_models(reduced, reference, config)
        self.position: int | None = None  # index into stops() of the hunk shown
        self.anchor = 0  # the component at the top, where n/p continue from after scrolling or a jump
        self.query_text, self.hits, self.hit = "", [], -1
        self.attribution: list | None = None
        self.note = ""  # what the status line says besides where the reader is (search, wrap, o)
        self.chosen: dict[str, bool] = {}  # panels and layout the reader chose by key, over the width's defaults

    @classmethod
    def keys(cls) -> list[tuple[str, str]]:
        return [(b.key, b.tooltip or b.description) for b in cls.BINDINGS] + [
            ("enter", "in the tree or the facts: jump there"), ("ctrl+p", "command palette: the same actions by name")]

    # --- layout ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield Tree(self.reduced.source.model_type, id="components")
            with Vertical(id="center"):
                yield DiffView(self.diff, self.reduced.source.model_type, self.reference.source.model_type, id="diff")
                yield FactsPanel(self.diff.differing, self.reduced.source.model_type,
                                 self.reference.source.model_type, id="facts")
        yield Static(id="status")
        yield KeyBar(self.BINDINGS, id="keys")

    def on_mount(self) -> None:
        self._fill_tree()
        self._arrange()
        self._status()
        self.sub_title = self._where(0)
        self.call_after_refresh(self._first_stop, 20)

    def _first_stop(self, tries: int) -> None:
        """Open on the first difference once the view has its width (and so its lines)."""
        view = self.query_one(DiffView)
        view.rebuild()
        if view.screen_lines.lines and self.position is None and self.stops():
            self.action_step(1)
        elif not view.screen_lines.lines and tries:
            self.call_after_refresh(self._first_stop, tries - 1)

    def on_resize(self) -> None:
        self._arrange()
        self._status()
        if self.query_one(DiffView).mode != "original":
            self.sub_title = self._where(*self.stops()[self.position]) if self.position is not None else self._where(self.anchor)

    def _arrange(self) -> None:
        """Panels and diff layout for this size, unless the reader chose otherwise by key."""
        width, height = self.size
        wide = width >= WIDE
        tree = self.query_one("#components")
        tree.display = self.chosen.get("tree", wide)
        names = max((len(c.part.name) for c in self.diff.components), default=10)
        # guides, border, scrollbar: names whole if they fit; a panel asked for below WIDE may take a quarter
        tree.styles.width = max(14, min(names + 7, width // (5 if wide else 4)))
        facts = self.query_one(FactsPanel)
        facts.display = self.chosen.get("facts", wide or height >= TALL)
        facts.set_class(not wide, "stacked")
        if wide:
            facts.styles.width = min(facts.widest, 44)
        self.call_after_refresh(self._fit_tree_labels)
        view = self.query_one(DiffView)
        mode = "unified" if self.chosen.get("unified", width < UNIFIED_BELOW) else "side"
        if view.mode != "original" and view.mode != mode:
            view.set_mode(mode)

    def _fill_tree(self) -> None:
        tree = self.query_one("#components", Tree)
        tree.clear()
        for i in range(len(self.diff.components)):
            tree.root.add_leaf(self._tree_label(i), data=i)
        tree.root.expand()

    def _tree_label(self, i: int, room: int | None = None) -> Text:
        """The name first, then the role (each component's heading shows both); cut with an ellipsis where the
        panel is narrower, never silently."""
        c = self.diff.components[i]
        label = Text.assemble((c.part.name, "bold" if c.changed else "dim"), (f" {c.part.role}", "dim italic"))
        if room is not None and label.cell_len > room:
            label.truncate(max(room, 2), overflow="ellipsis")
        return label

    def _fit_tree_labels(self) -> None:
        """Once the panel has its width: each label fitted to it (guides take the first columns)."""
        tree = self.query_one("#components", Tree)
        if not tree.display:
            return
        room = tree.scrollable_content_region.width - tree.guide_depth
        for node in tree.root.children:
            node.set_label(self._tree_label(node.data, room))

    def _status(self, note: str | None = None) -> None:
        """Where the reader is, what differs, sizes, reference and file: as many of them, in that order of
        importance, as the width holds (each whole), shown in their reading order."""
        if note is not None:
            self.note = note
        s, stops = self.reduced.source, self.stops()
        at = f"difference {self.position + 1} of {len(stops)}" if self.position is not None else f"{len(stops)} differences"
        if self.query_one(DiffView).mode == "original":
            at = "original"  # no difference is shown: the note (o back, the counts) says what is
        parts = [at + (f" · {self.note}" if self.note else ""), f"{len(self.diff.differing)} facts differ",
                 f"{s.model_type} {self.reduced.original_lines} → {self.reduced.reduced_lines} lines",
                 f"against {self.reference.source.model_type}", short_path(s.path)]
        self.query_one("#status", Static).update(Text(" " + fit_parts(parts, self.size.width - 1), no_wrap=True,
                                                      overflow="ellipsis"))

    # --- differences ----------------------------------------------------------------------------------
    def stops(self) -> list[tuple[int, int]]:
        """(component, hunk) of every changed hunk, in file order."""
        return [(ci, h) for ci, c in enumerate(self.diff.components) for h in range(len(c.hunks))]

    def _where(self, ci: int, hunk: int | None = None) -> str:
        """Role, name and hunk for the title; where the header is too narrow, the role goes first (the
        component's heading shows it), then the header ends the name with an ellipsis."""
        if not self.diff.components:
            return ""
        c = self.diff.components[ci]
        at = [f"hunk {hunk + 1} of {len(c.hunks)}"] if hunk is not None else []
        room = self.app.size.width - HEADER_TAKES
        full, short = " · ".join([c.part.role, c.part.name, *at]), " · ".join([c.part.name, *at])
        return full if len(full) <= room else short

    def action_step(self, delta: int) -> None:
        stops = self.stops()
        if not stops:
            self._status("no differences")
            return
        wrapped = ""
        if self.position is None:
            after = [i for i, (ci, _) in enumerate(stops) if (ci >= self.anchor if delta > 0 else ci < self.anchor)]
            self.position = (after[0] if delta > 0 else after[-1]) if after else (0 if delta > 0 else len(stops) - 1)
            wrapped = "" if after else "wrapped"
        else:
            self.position += delta
            if not 0 <= self.position < len(stops):
                self.position %= len(stops)
                wrapped = "wrapped"
        ci, hunk = stops[self.position]
        if wrapped:
            wrapped = f"wrapped to the {'first' if delta > 0 else 'last'} difference"
            self.notify(wrapped, timeout=2)
        self.anchor = ci
        view = self.query_one(DiffView)
        start = view.screen_lines.component_start.get(ci, 0)
        line = view.screen_lines.hunk_start.get((ci, hunk), start)
        # the component's heading too, where the hunk is near it: the screen then says what it is
        view.go_to(start + 2 if line - start < view.size.height // 2 else line)
        self.sub_title = self._where(ci, hunk)
        self._status(wrapped)

    def on_diff_view_top_changed(self, event: DiffView.TopChanged) -> None:
        """Scrolled by hand: the title follows, and n/p continue from there."""
        view = self.query_one(DiffView)
        if self.position is None and event.component == self.anchor:
            return  # a jump's own scroll: title and status already say where
        if self.position is not None:
            ci, hunk = self.stops()[self.position]
            line = view.screen_lines.hunk_start.get((ci, hunk), -1)
            if view.scroll_y <= line < view.scroll_y + view.size.height:
                return  # the hunk stepped to is still in view
        self.position, self.anchor = None, event.component
        self.sub_title = self._where(event.component)
        self._status("")

    def jump(self, line: int, component: int) -> None:
        self.query_one(DiffView).go_to(line)
        self.position, self.anchor = None, component
        self.sub_title = self._where(component)
        self._status("")

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if isinstance(event.node.data, int):
            self.jump(self.query_one(DiffView).screen_lines.component_start.get(event.node.data, 0), event.node.data)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        fact = self.query_one(FactsPanel).facts[event.option_index]
        lines = self.query_one(DiffView).screen_lines
        at = [n for line, n in lines.model_line.items() if fact.model_line is not None and line >= fact.model_line]
        if at:
            line = min(at)
            self.jump(line, lines.component_of[line])

    # --- layout keys ----------------------------------------------------------------------------------
    def action_layout(self) -> None:
        view = self.query_one(DiffView)
        self.chosen["unified"] = view.mode != "unified"
        self._arrange()
        self._rehome()

    def _rehome(self) -> None:
        """After a re-layout: back to the hunk or component shown."""
        view = self.query_one(DiffView)
        if self.position is not None:
            view.go_to(view.screen_lines.hunk_start[self.stops()[self.position]])
        else:
            view.go_to(view.screen_lines.component_start.get(self.anchor, 0))
        if self.query_text:
            self.hits = view.matches(self.query_text)

    def action_tree(self) -> None:
        self.chosen["tree"] = not self.query_one("#components").display
        self._arrange()

    def action_facts(self) -> None:
        self.chosen["facts"] = not self.query_one(FactsPanel).display
        self._arrange()

    # --- search ---------------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.app.push_screen(Prompt("search both sides", self.query_text), self.search)

    def search(self, text: str | None) -> None:
        if not text:
            return
        view = self.query_one(DiffView)
        self.query_text, self.hits = text, view.matches(text)
        view.search(text)
        if not self.hits:
            self.notify(f"'{text}' not found", severity="warning")
            self._status(f"'{text}' not found")
            return
        top = int(view.scroll_y)
        self.hit = next((i for i, n in enumerate(self.hits) if n >= top), 0) - 1
        self.action_match(1)

    def action_match(self, delta: int) -> None:
        if not self.hits:
            self.notify("search first: /", severity="warning")
            return
        self.hit = (self.hit + delta) % len(self.hits)
        line = self.hits[self.hit]
        self.jump(line, self.query_one(DiffView).screen_lines.component_of[line])
        self._status(f"'{self.query_text}': match {self.hit + 1} of {len(self.hits)}")

    # --- reference ------------------------------------------------------------------------------------
    def action_reference(self) -> None:
        self.app.push_screen(Prompt("reference: a model type or a modeling file", self.reference.source.model_type),
                             self.change_reference)

    def change_reference(self, ref: str | None) -> None:
        if ref:
            self._load_reference(ref)

    @work(thread=True, exclusive=True, group="reference", exit_on_error=False)
    def _load_reference(self, ref: str) -> None:
        try:
            reference = reduce_cached(resolve(ref))
            diff = diff_models(self.reduced, reference, self.config)
        except ArchreadError as exc:
            self.app.call_from_thread(self.app.push_screen, ErrorDialog("cannot use that reference", str(exc)))
            return
        self.app.call_from_thread(self._use_reference, reference, diff)

    def _use_reference(self, reference: Reduction, diff: ArchDiff) -> None:
        self.reference, self.diff, self.position, self.anchor = reference, diff, None, 0
        self.query_one(FactsPanel).set_facts(diff.differing, self.reduced.source.model_type, reference.source.model_type)
        self.query_one(DiffView).set_diff(diff, reference.source.model_type)
        self._fill_tree()
        self._arrange()
        self._status("")
        self.sub_title = self._where(0)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # a bug, not bad input: a dialog, never a traceback
            error = event.worker.error
            self.app.push_screen(ErrorDialog("something failed", f"{type(error).__name__}: {error}"))
