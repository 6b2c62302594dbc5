"""The reader's keys that open other things: the original source (o), lint (l), verify (v), help (?)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.widgets import Static

from archread.errors import ArchreadError
from archread.ui.screens.dialogs import ErrorDialog, Panel, Prompt
from archread.ui.widgets.diff_view import DiffView


class ReaderTools:
    # --- original source ------------------------------------------------------------------------------
    def action_original(self) -> None:
        view = self.query_one(DiffView)
        if view.mode == "original":
            view.mode = ""
            self._arrange()
            self._rehome()
            self._status("")
        elif self.attribution is not None:
            self._show_original()
        else:
            self._status("working out which pass removed each line…")
            self._attribute()

    @work(thread=True, exclusive=True, group="original", exit_on_error=False)
    def _attribute(self) -> None:
        from archread.parsers.attribution import attribute

        try:
            config = None
            if self.config is not None:  # the checkpoint's reading, as the reader shows it
                from archread.runtime.config_values import config_values

                config = config_values(self.config, self.reduced.source)
            lines = attribute(self.reduced.source, config)
        except ArchreadError as exc:
            self.app.call_from_thread(self.app.push_screen, ErrorDialog("cannot attribute lines", str(exc)))
            return
        self.app.call_from_thread(self._attributed, lines)

    def _attributed(self, lines) -> None:
        self.attribution = lines
        self._show_original()

    def original_counts(self) -> tuple[int, int]:
        """(non-blank original lines removed or rewritten, kept as written): they add up to the status's count."""
        removed = sum(1 for line, by in self.attribution if by and line.strip())
        kept = sum(1 for line, by in self.attribution if not by and line.strip())
        return removed, kept

    def _show_original(self) -> None:
        view = self.query_one(DiffView)
        view.attribution, view.mode = self.attribution, "original"
        view.set_mode("original")
        name = self.diff.components[self.anchor].part.name if self.diff.components else ""
        start = next((n for n, (line, _) in enumerate(self.attribution, 1)
                      if line.lstrip().startswith((f"class {name}(", f"class {name}:", f"def {name}("))), 1)
        view.go_to(view.screen_lines.model_line.get(start, 0))  # a screen row: wrapped lines above take more
        removed, kept = self.original_counts()
        self.sub_title = f"original {self.reduced.source.model_type}"
        self._status(f"o back: of {self.reduced.original_lines} non-blank lines, {removed} removed or rewritten "
                     f"(labelled by pass), {kept} kept")

    # --- lint -----------------------------------------------------------------------------------------
    def action_lint(self) -> None:
        config = self.config or self.reduced.source.path.parent / "config.json"
        if config.exists():
            self._lint(config)
            return
        self.app.push_screen(Prompt(f"no config.json next to {self.reduced.source.path.name}: a config.json (or its "
                                    "folder) to lint, or enter for the defaults its configuration class declares",
                                    empty=""), self._lint_answer)

    def _lint_answer(self, answer: str | None) -> None:
        if answer is None:
            return
        self._lint(Path(answer).expanduser() if answer else None)

    def _lint(self, config: Path | None) -> None:
        from archread.parsers.config_defaults import config_file, read_defaults
        from archread.parsers.lint import lint_config, load_config

        try:
            if config is None:
                source = self.reduced.source
                path = config_file(source.path)
                cfg = {k: d.value for k, d in (read_defaults(path, source.model_type) if path else {}).items()}
                where = f"the defaults of {path.name if path else '(no configuration file)'}"
            else:
                path, cfg = load_config(config)
                where = str(path)
        except ArchreadError as exc:
            self.app.push_screen(ErrorDialog("lint", str(exc)))
            return
        findings = lint_config(cfg)
        text = Text()
        for f in findings:
            text.append(f"{f.severity:<8} {f.code}\n", style="bold red" if f.severity == "error" else "bold yellow")
            text.append(f"  {f.message}\n  why: {f.why}\n  fix: {f.fix}\n\n")
        self.app.push_screen(Panel(f"lint {where}: {len(findings)} findings", Static(text or "no findings")))

    # --- verify and help ------------------------------------------------------------------------------
    def action_verify(self) -> None:
        from archread.ui.screens.verify import VerifyScreen  # the screens a key opens load when it is pressed

        self.app.push_screen(VerifyScreen(self.reduced, self.config))

    def action_help(self) -> None:
        from archread.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.keys()))
