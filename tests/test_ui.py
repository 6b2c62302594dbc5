"""The reader as a person uses it: every binding driven with the pilot, asserting on widget state."""

import asyncio
import json
import re

import pytest

from archread.parsers import reduce_source, resolve
from archread.ui.app import ArchreadApp
from archread.ui.screens.dialogs import ErrorDialog, Panel, Prompt
from archread.ui.screens.help import HelpScreen
from archread.ui.screens.verify import VerifyScreen
from archread.ui.widgets.diff_view import DiffView
from archread.ui.widgets.facts_panel import FactsPanel
from tests.ui_screen import assert_tree_labels_fit, screen_text


def make_app(model="nemotron", against="llama"):
    return ArchreadApp(reduce_source(resolve(model)), reduce_source(resolve(against)))


def drive(app, script, size=(120, 36)):
    async def run():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, app.reader, pilot)
    asyncio.run(run())


def test_n_visits_every_changed_hunk_in_file_order_and_says_where():
    async def script(app, reader, pilot):
        for _ in range(5):
            await pilot.pause()
        stops = reader.stops()
        changed = [c.part.name for c in reader.diff.components if c.changed]
        assert reader.position == 0  # opens on the first difference
        seen = [reader.diff.components[stops[0][0]].part.name]
        for _ in range(len(stops) - 1):
            await pilot.press("n")
            ci, hunk = stops[reader.position]
            c = reader.diff.components[ci]
            assert reader.sub_title == f"{c.part.role} · {c.part.name} · hunk {hunk + 1} of {len(c.hunks)}"
            assert f"difference {reader.position + 1} of {len(stops)}" in str(reader.query_one("#status").render())
            seen.append(c.part.name)
        assert sorted(set(seen), key=seen.index) == changed
        await pilot.press("n")
        assert reader.position == 0 and "wrapped" in str(reader.query_one("#status").render())
        await pilot.press("p")
        assert reader.position == len(stops) - 1
    drive(make_app("qwen3_moe"), script)


def test_choosing_a_fact_jumps_to_where_it_is_read():
    async def script(app, reader, pilot):
        facts = reader.query_one(FactsPanel)
        keys = [f.key for f in facts.facts]
        assert {"norm.weight_offset", "mlp.gated", "mlp.activation", "pos.rotary_fraction"} <= set(keys)
        facts.focus()
        facts.highlighted = keys.index("mlp.gated")
        await pilot.press("enter")
        assert reader.sub_title.startswith("mlp · NemotronMLP")
    drive(make_app(), script, size=(150, 40))


def test_search_has_next_and_previous():
    async def script(app, reader, pilot):
        await pilot.press("slash")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*"act_fn", "enter")
        await pilot.pause()
        view = reader.query_one(DiffView)
        assert len(reader.hits) >= 1 and "match 1 of" in str(reader.query_one("#status").render())
        await pilot.press("N")
        assert reader.hit == 1 % len(reader.hits)
        await pilot.press("P")
        assert reader.hit == 0 and "act_fn" in view.screen_lines.lines[reader.hits[0]].plain.lower()
    drive(make_app(), script)


def test_reference_can_be_changed_and_a_bad_one_opens_a_dialog():
    async def script(app, reader, pilot):
        await pilot.press("r")
        prompt = app.screen
        prompt.query_one("#prompt").value = "gemma"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reader.reference.source.model_type == "gemma"
        await pilot.press("r")
        app.screen.query_one("#prompt").value = "no_such_model"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog) and "no_such_model" in app.screen.message
        await pilot.press("escape")
        assert app.screen is reader
    drive(make_app(), script)


def test_original_labels_removed_lines_by_pass_with_counts_that_agree():
    async def script(app, reader, pilot):
        await pilot.press("o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = reader.query_one(DiffView)
        assert view.mode == "original"
        labels = {by for _, by in reader.attribution if by}
        assert {"docstrings", "kv_cache", "outputs"} <= labels
        removed, kept = reader.original_counts()
        assert removed + kept == reader.reduced.original_lines  # the status line's "437 → 114" counts the same lines
        assert f"{reader.reduced.original_lines} non-blank lines, {removed} removed" in str(reader.query_one("#status").render())
        await pilot.press("o")
        assert view.mode == "side"
    drive(make_app(), script)


def test_original_opens_at_the_component_shown_where_long_lines_wrap():
    # deepseek_v3 at 80 columns: the docstrings above its MLP wrap, so source lines and screen rows differ
    async def script(app, reader, pilot):
        name = reader.diff.components[reader.anchor].part.name
        await pilot.press("o")
        await app.workers.wait_for_complete()
        for _ in range(3):
            await pilot.pause()
        view = reader.query_one(DiffView)
        top = view.screen_lines.lines[int(view.scroll_y) + 2].plain  # go_to keeps two rows of what comes before
        assert f"class {name}(" in top, top
        status = screen_text(app).splitlines()[-2]
        assert status.startswith(" original · o back") and (status.rstrip().endswith("kept") or status.rstrip().endswith("…"))
    drive(make_app("deepseek_v3"), script, size=(80, 24))


def test_lint_reads_a_config_next_to_the_file(tmp_path):
    src = resolve("llama")
    (tmp_path / "modeling_llama.py").write_text(src.text)
    (tmp_path / "config.json").write_text(json.dumps({"pad_token_id": 2, "eos_token_id": 2}))
    app = ArchreadApp(reduce_source(resolve(str(tmp_path / "modeling_llama.py"))), reduce_source(src))

    async def script(app, reader, pilot):
        await pilot.press("l")
        assert isinstance(app.screen, Panel) and "1 findings" in app.screen.title_text
        await pilot.press("escape")
        assert app.screen is reader
    drive(app, script)


def test_lint_without_config_offers_a_path_or_the_defaults():
    async def script(app, reader, pilot):
        await pilot.press("l")
        assert isinstance(app.screen, Prompt) and "defaults" in app.screen.label
        await pilot.press("enter")  # empty: the defaults the configuration class declares
        assert isinstance(app.screen, Panel) and "defaults of configuration_nemotron.py" in app.screen.title_text
    drive(make_app(), script)


def test_verify_runs_in_a_worker_and_charts_each_layer():
    async def script(app, reader, pilot):
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.report is not None and screen.report.match
        assert "model.layers.0" in screen.chart.names and "logits" in screen.chart.names
    drive(make_app(), script)


def test_help_lists_every_binding():
    async def script(app, reader, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = {k for k, _ in app.screen.keys}
        assert {b.key for b in reader.BINDINGS} <= shown and {"enter", "ctrl+p"} <= shown
        await pilot.press("escape")
    drive(make_app(), script)


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_key_bar_fits_the_width_essentials_first(width):
    from archread.ui.screens.reader import ReaderScreen
    from archread.ui.widgets.key_bar import fit

    text = fit(ReaderScreen.BINDINGS, width).plain
    assert len(text) <= width
    assert all(f" {k} " in text for k in "np/?q")


def test_changed_spans_within_lines_are_highlighted():
    from archread.ui.highlight import REMOVED_SPAN

    async def script(app, reader, pilot):
        mlp = next(i for i, c in enumerate(reader.diff.components) if c.part.role == "mlp")
        ref = reader.query_one(DiffView).bodies.ref[mlp]
        marked = {t.plain[s.start:s.end] for t in ref for s in t.spans if str(s.style) == REMOVED_SPAN}
        assert any("gate_proj" in m for m in marked)
        assert not any("down_proj" in m for m in marked)  # the call both make is not marked
    drive(make_app(), script)


def test_wrapping_keeps_every_character_and_marks_continuations():
    from rich.text import Text

    from archread.ui.diff_lines import wrap

    line = Text("        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x)) + some_long_name")
    for width in (10, 23, 40, 200):
        pieces = wrap(line, width)
        assert "".join(p.plain for p in pieces) == line.plain and all(p.cell_len <= width for p in pieces)


def test_wrapping_breaks_between_tokens_never_inside_a_name_or_number():
    from rich.text import Text

    from archread.ui.diff_lines import wrap

    line = Text("        self.weight = nn.Parameter(torch.ones(hidden_size)) * 1.0e-6 + hidden_states.to(torch.float32)")
    for width in range(8, len(line.plain)):
        pieces = [p.plain for p in wrap(line, width)]
        at = 0
        for left, right in zip(pieces, pieces[1:]):
            at += len(left)
            name = re.match(r"\w*", line.plain[at - len(re.search(r"\w*$", left)[0]):])[0]
            assert not re.match(r"\w\w", left[-1:] + right[:1]) or len(name) > width, (width, pieces)
            assert not right.startswith(("-6", ".0", "0e")), (width, pieces)  # 1.0e-6 stays one number
    quoted = Text('        self.register_buffer("masked_bias", torch.tensor(-1e4), persistent=False)')
    for width in range(len('"masked_bias"') + 1, len(quoted.plain)):  # narrower, the string itself must break
        pieces = [p.plain for p in wrap(quoted, width)]
        assert not any(p.endswith('"') and q[:1].isalpha() or p[-1:].isalpha() and q.startswith('"')
                       for p, q in zip(pieces, pieces[1:])), (width, pieces)  # quotes stay with the string's text
    # a name wider than the width is the one place a piece ends inside it (its continuation is marked)
    assert [p.plain for p in wrap(Text("x = a_very_long_identifier_name"), 12)][1:] == ["a_very_long_", "identifier_n", "ame"]


def test_the_status_line_keeps_whole_parts_most_important_first():
    from archread.ui.screens.reader import fit_parts

    parts = ["difference 1 of 10", "6 facts differ", "nemotron 437 → 114 lines", "against llama", "transformers/x.py"]
    assert fit_parts(parts, 200) == " · ".join(parts)
    assert fit_parts(parts, 64) == "difference 1 of 10 · 6 facts differ · nemotron 437 → 114 lines"
    assert fit_parts(parts, 5) == "difference 1 of 10"  # the first always (the line ends it with …)


def test_command_palette_lists_the_actions():
    async def script(app, reader, pilot):
        titles = [c.title for c in app.get_system_commands(reader)]
        assert {"Search both sides", "This list", "Quit"} <= set(titles) and any(t.startswith("Next changed hunk") for t in titles)
    drive(make_app(), script)


def test_quit():
    async def script(app, reader, pilot):
        assert app.return_code is None
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running
    drive(make_app(), script)


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)])
def test_the_layout_gives_the_code_the_width(size):
    async def script(app, reader, pilot):
        for _ in range(3):
            await pilot.pause()
        view = reader.query_one(DiffView)
        assert view.mode == ("unified" if size[0] < 100 else "side")
        assert reader.query_one("#components").display == (size[0] >= 140)
        assert view.size.width >= (size[0] - 2 if size[0] < 140 else size[0] // 2)
        await pilot.press("s")
        assert view.mode == ("side" if size[0] < 100 else "unified")
        await pilot.press("t")
        assert reader.query_one("#components").display == (size[0] < 140)
    drive(make_app(), script, size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_the_tree_asked_for_on_a_narrow_terminal_marks_every_name_it_cuts(size):
    async def script(app, reader, pilot):
        await pilot.press("t")
        for _ in range(3):
            await pilot.pause()
        labels = [node.label.plain for node in reader.query_one("#components").root.children]
        assert any(label.endswith("…") for label in labels)  # deepseek_v3's names are longer than the panel
        assert_tree_labels_fit(reader)
    drive(make_app("deepseek_v3"), script, size=size)


def test_the_title_keeps_the_name_and_hunk_whole_at_80_columns():
    from archread.ui.screens.reader import HEADER_TAKES

    async def script(app, reader, pilot):
        for _ in range(3):
            await pilot.pause()
        titles = []
        for _ in range(len(reader.stops())):
            await pilot.press("n")
            ci, hunk = reader.stops()[reader.position]
            c = reader.diff.components[ci]
            assert reader.sub_title.endswith(f"{c.part.name} · hunk {hunk + 1} of {len(c.hunks)}")
            assert len(reader.sub_title) <= 80 - HEADER_TAKES or reader.sub_title.startswith(c.part.name)
            titles.append(reader.sub_title)
        names = {c.part.name for c in reader.diff.components}
        assert any(t.split(" · ")[0] in names for t in titles)  # some were too long with the role: it went first
    drive(make_app("deepseek_v3"), script, size=(80, 24))


def test_loading_screen_paints_first_then_the_reader_replaces_it():
    import threading

    from archread.ui.screens.loading import LoadingScreen
    from archread.ui.screens.reader import ReaderScreen

    gate = threading.Event()
    reductions = [reduce_source(resolve("nemotron")), reduce_source(resolve("llama"))]

    def pending():
        gate.wait(10)
        return reductions

    app = ArchreadApp(pending=pending, what="nemotron against llama")

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, LoadingScreen)
            assert "nemotron against llama" in str(app.screen.query_one("#loading-text").render())
            gate.set()
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, ReaderScreen) and app.screen.is_mounted:
                    break
            await pilot.pause(0.1)  # let its header finish mounting before the app closes
            assert isinstance(app.screen, ReaderScreen) and app.reader.reduced is reductions[0]
    asyncio.run(run())


def test_a_reduction_failing_behind_the_loading_screen_exits_2_with_its_line():
    from archread.errors import ArchreadError

    def pending():
        raise ArchreadError("modeling_x.py:3:9: syntax error: invalid syntax")

    app = ArchreadApp(pending=pending, what="x against llama")

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if app.return_code is not None:
                    break
    asyncio.run(run())
    assert app.return_code == 2 and app.failure == "modeling_x.py:3:9: syntax error: invalid syntax"


def test_the_reader_is_the_first_screen_when_both_reductions_are_cached(tmp_path, monkeypatch):
    from archread.cli import build_app

    monkeypatch.setenv("ARCHREAD_CACHE", str(tmp_path))
    cold = build_app("nemotron", "llama")
    assert cold.pending is not None  # nothing cached: the loading screen while child processes reduce
    cold.pending()  # waits for them; they fill the cache
    warm = build_app("nemotron", "llama")
    assert warm.pending is None and warm.reduced.source.model_type == "nemotron"
    assert warm.reference.source.model_type == "llama"


def test_a_checkpoint_configuration_gives_its_reading_and_verify_builds_from_it(tmp_path):
    # llama3 RoPE: the reader shows the rotary that calls its initialiser, and verify checks that reading on the
    # config's model
    from archread.cli import build_app

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                                  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128, "rope_parameters": {
                                      "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 128}}))
    app = build_app("llama", "llama", config)
    assert app.pending is not None and app.config == config  # never served from the by-source cache
    reduced, reference = app.pending()
    assert "ROPE_INIT_FUNCTIONS" not in reference.code and "ROPE_INIT_FUNCTIONS[" in reduced.code
    app = ArchreadApp(reduced, reference, config=config)

    async def script(app, reader, pilot):
        rotary = next(c for c in reader.diff.components if c.part.role == "rotary")
        assert rotary.changed and not next(c for c in reader.diff.components if c.part.role == "mlp").changed
        await pilot.press("v")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.report is not None and app.screen.report.match
    drive(app, script)


def test_the_verify_chart_states_its_setup_and_reads_when_every_error_is_zero():
    from types import SimpleNamespace

    from archread.ui.widgets.error_chart import ErrorChart, bar, scale

    exact = [SimpleNamespace(name=f"model.layers.{i}", max_abs=0.0, rel_l2=0.0) for i in range(3)]
    report = SimpleNamespace(
        layers=exact, logits=SimpleNamespace(name="logits", max_abs=0.0, rel_l2=0.0), baseline=[], match=True,
        first_divergent=None, reason=None, dtype="float32", device="cpu", padded=SimpleNamespace(max_abs=0.0, rel_l2=0.0),
        setup={"batch": 2, "seq_len": 16, "seed": 0, "tolerance": {"rule": "max_abs ≤ 1e-05 and rel_l2 ≤ 1e-06"},
               "padding": "padded batch: row 0 left-padded and row 1 right-padded by 4 tokens",
               "config": {"hidden_size": 64, "num_hidden_layers": 3, "rope_theta": 10000.0, "use_cache": True}})
    chart = ErrorChart()
    chart.show(report)  # no logarithm of 0 taken
    for words in ("batch 2 × 16 tokens, seed 0", "rel_l2 ≤ 1e-06", "left-padded", "hidden_size=64",
                  "num_hidden_layers=3", "every one of the 4 modules equals the float32 original exactly"):
        assert words in chart.text, words
    assert "rope_theta" not in chart.text and scale([0.0, 0.0]) is None
    assert bar(0.0, None, "green").plain == "· 0 (exact)" and "not finite" in bar(float("nan"), (-7, 0), "green").plain
    mixed = scale([0.0, 3e-7, 2e-3])
    assert mixed == (-8, -2) and bar(3e-7, mixed, "green").plain.startswith("█") and bar(0.0, mixed, "g").plain.endswith("(exact)")


@pytest.mark.parametrize("model,keys", [
    ("mixtral", ["moe.experts", "moe.top_k", "moe.router"]), ("qwen3_moe", ["moe.experts", "moe.layers"]),
    ("deepseek_v3", ["attn.mla", "mla.kv_rank", "mla.rope_dim", "moe.shared_experts"]),
    ("jamba", ["layers.kinds", "layers.pattern", "mixer.kind", "mixer.state_size"]),
    ("nemotron_h", ["layers.kinds", "mixer.kind", "mixer.conv_kernel", "moe.router"]),
])
def test_the_facts_panel_shows_the_moe_mla_layer_and_mixer_families(model, keys):
    async def script(app, reader, pilot):
        facts = reader.query_one(FactsPanel)
        shown = [facts.get_option_at_index(i).prompt.plain for i in range(facts.option_count)]
        for key in keys:
            assert any(line.startswith(key + " ") for line in shown), key  # each key on its own row, with its value
    drive(make_app(model), script, size=(150, 40))
