"""SVG snapshots of the reader (pytest-textual-snapshot) on archread's own sample modeling files (samples/models),
so they are the same under any transformers; each also checks that the screen reads. `--snapshot-update`
retakes them."""

import pytest

from tests.ui_screen import assert_readable, sample_app, screen_text

SIZES = [(80, 24), (120, 36), (200, 50)]


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model", ["sketch_nemotron", "sketch_qwen3_moe", "sketch_gemma2"])
def test_reader(snap_compare, model, size):
    async def check(pilot):
        await settle(pilot)
        assert_readable(pilot.app)
    assert snap_compare(sample_app(model), run_before=check, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, size):
    async def help_(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        shown = " ".join(screen_text(pilot.app).split())
        # the first keys' lines whole (descriptions wrap at spaces inside the panel, never cut)
        for key, what in pilot.app.reader.keys()[:3]:
            assert " ".join(what.split()[:4]) in shown, f"{key}: {what!r} cut:\n{screen_text(pilot.app)}"
    assert snap_compare(sample_app("sketch_nemotron"), run_before=help_, terminal_size=size)


def test_stepping_to_the_second_difference(snap_compare):
    async def step(pilot):
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert_readable(pilot.app)
    assert snap_compare(sample_app("sketch_gemma2"), run_before=step, terminal_size=(120, 36))
