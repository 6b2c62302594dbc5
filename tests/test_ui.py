"""The reader as a person uses it: open nemotron against llama, step through differences, quit."""

import asyncio

from archread.parsers import reduce_source, resolve
from archread.ui.app import ArchreadApp, CodePane


def test_next_difference_moves_both_panes():
    async def drive():
        app = ArchreadApp(reduce_source(resolve("nemotron")), reduce_source(resolve("llama")))
        async with app.run_test(size=(120, 36)) as pilot:
            first = app.index
            await pilot.press("n")
            second = app.index
            await pilot.press("n")
            assert second != first and app.index != second
            part = app.parts[app.index]
            assert app.sub_title == f"{part.role}: {part.name}"
            assert app.query_one("#model", CodePane).code == part.code
            await pilot.press("p")
            assert app.index == second
            await pilot.press("q")

    asyncio.run(drive())


def test_mlp_pairs_with_llama_mlp():
    app = ArchreadApp(reduce_source(resolve("nemotron")), reduce_source(resolve("llama")))
    mlp = next(p for p in app.parts if p.name == "NemotronMLP")
    theirs, mine_changed, _ = app._diff(mlp)
    assert "class LlamaMLP" in theirs and mine_changed  # ungated relu² vs gated SiLU differ
