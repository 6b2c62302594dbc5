"""The cycle collector paused from the reader's launch to its first paint.

Start-up builds a few hundred thousand objects (Textual's classes and styles, the widgets, the diff) that live
as long as the app: the collector's hundred-odd passes over them found nothing to free and cost about a fifth
of the first paint. Once painted, they are frozen (later passes skip them) and collection resumes. Plain gc,
no Textual: the CLI pauses before it imports the UI.
"""

from __future__ import annotations

import gc

_paused = False


def pause_collection() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """After the first paint (or on leaving); only what pause_collection paused, and only once."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
