"""What a terminal shows of the app, as plain text, and the readability checks the snapshot tests share."""

from pathlib import Path

from rich.console import Console

from archread.parsers import reduce_source, resolve
from archread.ui.app import ArchreadApp

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "models"


def sample_app(name: str, against: str = "sketch_llama") -> ArchreadApp:
    """The reader on archread's own sample modeling files: the same pictures under any transformers."""
    return ArchreadApp(reduce_source(resolve(SAMPLES / f"modeling_{name}.py")),
                       reduce_source(resolve(SAMPLES / f"modeling_{against}.py")))


def screen_text(app) -> str:
    width = app.size.width
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def assert_readable(app) -> None:
    """No code line cut without a marker, no fact label broken inside a word, the essential keys shown, the
    status line whole."""
    from archread.ui.widgets.diff_view import DiffView
    from archread.ui.widgets.facts_panel import FactsPanel

    text = screen_text(app)
    reader = app.reader
    view = reader.query_one(DiffView)
    width = view.scrollable_content_region.width
    assert all(line.cell_len <= width for line in view.screen_lines.lines)  # the view never cuts a line itself
    facts = reader.query_one(FactsPanel)
    if facts.display and app.screen is reader:
        shown = " ".join(text.split())
        for f in facts.facts[: max(facts.size.height - 2, 0) // 2]:
            assert f.key in shown, f"{f.key} broken or missing:\n{text}"
    assert_tree_labels_fit(reader)
    if app.screen is not reader:
        return
    *_, status, keys = text.splitlines()
    for key in (" n ", " p ", " / ", " ? ", " q "):
        assert key in keys, f"{key!r} missing from the key bar: {keys!r}"
    assert "…" not in status and status.startswith(" difference"), f"the status line is cut: {status!r}"


def assert_tree_labels_fit(reader) -> None:
    """Each component's label in the tree whole, or cut with an ellipsis: never cut by the panel's edge."""
    tree = reader.query_one("#components")
    if not tree.display:
        return
    room = tree.scrollable_content_region.width - tree.guide_depth
    for node in tree.root.children:
        shown, whole = node.label.plain, reader._tree_label(node.data).plain
        assert len(shown) <= room and (shown == whole or (shown.endswith("…") and whole.startswith(shown[:-1]))), (
            f"tree label {shown!r} of {whole!r} in {room} columns")
