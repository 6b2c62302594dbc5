"""Where archread keeps what it caches: reductions, release trees, installed releases."""

from __future__ import annotations

import os
from pathlib import Path


def archread_cache() -> Path:
    """archread's cache root: ARCHREAD_CACHE, else $XDG_CACHE_HOME/archread, else ~/.cache/archread."""
    return Path(os.environ.get("ARCHREAD_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "archread")
