"""The reader: components by role, the reduced model beside the reference's aligned component, the facts
that differ. Keys: n/p differences, / search, r reference, o original source, l lint, v verify, ? help."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static, Tree
from textual.worker import Worker, WorkerState

from archread.diff import ArchDiff, ComponentDiff, diff_models
from archread.errors import ArchreadError
from archread.parsers import Reduction, resolve
from archread.parsers.cache import reduce_cached
from archread.ui.screens.dialogs import ErrorDialog, Panel, Prompt
from archread.ui.widgets.code_pane import CodePane
from archread.ui.widgets.facts_panel import FactsPanel
from archread.ui.widgets.key_bar import KeyBar


def short_path(path: Path) -> str:
    """The path from the transformers package on (the same on every machine), else the file name."""
    parts = path.parts
    return "/".join(parts[parts.index("transformers"):]) if "transformers" in parts else path.name


class ReaderScreen(Screen):
    BINDINGS = [
        Binding("n", "step(1)", "next difference"),
        Binding("p", "step(-1)", "previous difference"),
        Binding("slash", "search", "search"),
        Binding("r", "reference", "reference"),
        Binding("o", "original", "original/reduced"),
        Binding("l", "lint", "lint config"),
        Binding("v", "verify", "verify"),
        Binding("question_mark", "help", "help"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, reduced: Reduction, reference: Reduction, config: Path | None = None):
        """config: the checkpoint's config.json the model was reduced for; the facts and verify read it too."""
        super().__init__()
        self.reduced, self.reference, self.config = reduced, reference, config
        self.diff: ArchDiff = diff_models(reduced, reference, config)
        self.index = 0
        self.query_text = ""
        self.attribution: list | None = None

    # --- layout ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield Tree(self.reduced.source.model_type, id="components")
            with Horizontal(id="code"):
                yield CodePane(self.reduced.source.label, id="model")
                yield CodePane(self.reference.source.label, id="reference")
            yield FactsPanel(self.diff.differing, self.reference.source.model_type, id="facts")
        yield Static(id="status")
        yield KeyBar(self.BINDINGS, id="keys")

    def on_mount(self) -> None:
        self._fill_tree()
        self._status()
        self.select(self.differences()[0] if self.diff.components else 0)

    def differences(self) -> list[int]:
        """Components where a fact differs, in file order; else those whose code differs; else all."""
        with_facts = sorted({i for f in self.diff.differing if (i := self.component_at(f.model_line)) is not None})
        changed = [i for i, c in enumerate(self.diff.components) if c.changed]
        return with_facts or changed or list(range(len(self.diff.components)))

    def _fill_tree(self) -> None:
        tree = self.query_one("#components", Tree)
        tree.clear()
        for i, c in enumerate(self.diff.components):
            tree.root.add_leaf(Text(f"{c.part.role}: {c.part.name}", style="" if c.changed else "dim"), data=i)
        tree.root.expand()

    def _status(self, note: str = "") -> None:
        s = self.reduced.source
        self.query_one("#status", Static).update(Text(
            f" {short_path(s.path)} · transformers {s.release or '?'} · {self.reduced.original_lines} → "
            f"{self.reduced.reduced_lines} lines · against {self.reference.source.model_type} · "
            f"{len(self.diff.differing)} facts differ{' · ' + note if note else ''}"))

    # --- selection ------------------------------------------------------------------------------------
    @property
    def current(self) -> ComponentDiff:
        return self.diff.components[self.index]

    def select(self, index: int, model_line: int | None = None, reference_line: int | None = None) -> None:
        if not self.diff.components:
            return
        self.index = index
        c = self.current
        model, ref = self.query_one("#model", CodePane), self.query_one("#reference", CodePane)
        if model.mode == "original" and self.attribution:
            model.show_attributed(self.attribution)
            model.scroll_to_line(self._original_line(c.part.name))
        else:
            model.show(c.part.code, c.model_changed, c.part.line, c.model_spans)
            if model_line:
                model.scroll_to_line(model_line - c.part.line + 1)
        ref.show(c.other.code if c.other else "", c.reference_changed, c.other.line if c.other else 1,
                 c.reference_spans)
        if reference_line and c.other:
            ref.scroll_to_line(reference_line - c.other.line + 1)
        self.sub_title = f"{c.part.role}: {c.part.name}"

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if isinstance(event.node.data, int):
            self.select(event.node.data)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        fact = self.query_one(FactsPanel).facts[event.option_index]
        self.jump_to(fact.model_line, fact.reference_line)

    def component_at(self, line: int | None) -> int | None:
        for i, c in enumerate(self.diff.components):
            if line is not None and c.part.line <= line < c.part.line + len(c.part.code.splitlines()):
                return i
        return None

    def jump_to(self, model_line: int | None, reference_line: int | None = None) -> None:
        index = self.component_at(model_line)
        if index is not None:
            self.select(index, model_line, reference_line)

    def action_step(self, delta: int) -> None:
        stops = self.differences()
        after = [i for i in stops if (i - self.index) * delta > 0]
        self.select((after[0] if delta > 0 else after[-1]) if after else stops[0 if delta > 0 else -1])

    # --- search ---------------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.app.push_screen(Prompt("search the reduced model", self.query_text), self.search)

    def search(self, text: str | None) -> None:
        if not text:
            return
        self.query_text = text
        lines = self.reduced.code.splitlines()
        start = self.current.part.line + (self.query_one("#model", CodePane).scroll_y or 0)
        order = list(range(start, len(lines))) + list(range(0, start))
        hit = next((n + 1 for n in order if text.lower() in lines[n].lower()), None)
        if hit is None:
            self.notify(f"'{text}' not found", severity="warning")
            return
        self.jump_to(hit)
        self._status(f"'{text}' at line {hit}")

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
        self.reference, self.diff = reference, diff
        self.query_one("#reference", CodePane).border_title = reference.source.label
        self.query_one(FactsPanel).set_facts(diff.differing, reference.source.model_type)
        self._fill_tree()
        self._status()
        self.select(self.differences()[0] if diff.components else 0)

    # --- original source ------------------------------------------------------------------------------
    def action_original(self) -> None:
        pane = self.query_one("#model", CodePane)
        if pane.mode == "original":
            pane.border_title, pane.mode = self.reduced.source.label, "reduced"
            self.select(self.index)
            self._status()
        elif self.attribution is not None:
            self._show_original()
        else:
            self._status("working out which pass removed each line…")
            self._attribute()

    @work(thread=True, exclusive=True, group="original", exit_on_error=False)
    def _attribute(self) -> None:
        from archread.parsers.attribution import attribute

        try:
            lines = attribute(self.reduced.source)
        except ArchreadError as exc:
            self.app.call_from_thread(self.app.push_screen, ErrorDialog("cannot attribute lines", str(exc)))
            return
        self.app.call_from_thread(self._attributed, lines)

    def _attributed(self, lines) -> None:
        self.attribution = lines
        self._show_original()

    def _original_line(self, name: str) -> int:
        """Where the current component starts in the original file."""
        for n, (line, _) in enumerate(self.attribution or [], 1):
            if line.lstrip().startswith((f"class {name}(", f"class {name}:", f"def {name}(")):
                return n
        return 1

    def _show_original(self) -> None:
        pane = self.query_one("#model", CodePane)
        removed = sum(1 for _, by in self.attribution if by)
        pane.border_title = f"original: {removed} lines removed (dimmed, labelled by pass)"
        pane.show_attributed(self.attribution)
        pane.scroll_to_line(self._original_line(self.current.part.name))
        self._status("o: back to the reduced model")

    # --- lint -----------------------------------------------------------------------------------------
    def action_lint(self) -> None:
        from archread.parsers.lint import lint_config, load_config

        config = self.config or self.reduced.source.path.parent / "config.json"
        if not config.exists():
            self.notify(f"no config.json next to {self.reduced.source.path.name}", severity="warning")
            return
        try:
            _, cfg = load_config(config)
        except ArchreadError as exc:
            self.app.push_screen(ErrorDialog("lint", str(exc)))
            return
        findings = lint_config(cfg)
        text = Text()
        for f in findings:
            text.append(f"{f.severity:<8} {f.code}\n", style="bold red" if f.severity == "error" else "bold yellow")
            text.append(f"  {f.message}\n  why: {f.why}\n  fix: {f.fix}\n\n")
        self.app.push_screen(Panel(f"lint {config}: {len(findings)} findings", Static(text or "no findings")))

    # --- verify ---------------------------------------------------------------------------------------
    def action_verify(self) -> None:
        from archread.ui.screens.verify import VerifyScreen  # the screens a key opens load when it is pressed

        self.app.push_screen(VerifyScreen(self.reduced, self.config))

    def action_help(self) -> None:
        from archread.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.BINDINGS))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # a bug, not bad input: a dialog, never a traceback
            error = event.worker.error
            self.app.push_screen(ErrorDialog("something failed", f"{type(error).__name__}: {error}"))
