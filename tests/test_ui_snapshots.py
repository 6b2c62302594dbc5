"""SVG snapshots of the main views (pytest-textual-snapshot). They show transformers' own modeling files,
so they are compared only under the release they were taken with; `pytest --snapshot-update` retakes them."""

import importlib.metadata

import pytest

from archread.parsers import reduce_source, resolve
from archread.ui.app import ArchreadApp

TAKEN_WITH = "5.25.0"
pytestmark = pytest.mark.skipif(importlib.metadata.version("transformers") != TAKEN_WITH,
                                reason=f"snapshots show transformers {TAKEN_WITH}'s files")
SIZE = (140, 40)


def app():
    return ArchreadApp(reduce_source(resolve("nemotron")), reduce_source(resolve("llama")))


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen_nemotron_vs_llama(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE)


def test_original_source_toggle(snap_compare):
    async def toggle(pilot):
        await pilot.press("o")
        await settle(pilot)
    assert snap_compare(app(), run_before=toggle, terminal_size=SIZE)


def test_help_screen(snap_compare):
    assert snap_compare(app(), press=["question_mark"], terminal_size=SIZE)


def test_verify_chart(snap_compare):
    async def verify(pilot):
        await pilot.press("v")
        await settle(pilot)
    assert snap_compare(app(), run_before=verify, terminal_size=SIZE)


def test_error_dialog(snap_compare):
    async def bad_reference(pilot):
        await pilot.press("r")
        pilot.app.screen.query_one("#prompt").value = "no_such_model"
        await pilot.press("enter")
        await settle(pilot)
    assert snap_compare(app(), run_before=bad_reference, terminal_size=SIZE)
