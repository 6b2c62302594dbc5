"""Reading modeling source: resolve, reduce, describe. Imports neither torch nor textual.

Names load lazily: the libcst pipeline (about 0.3 s to import) only when something is reduced, so a
cached reduction opens without it.
"""

from __future__ import annotations

import importlib

_WHERE = {"Reduction": "archread.parsers.reduction", "Source": "archread.parsers.source",
          "resolve": "archread.parsers.source", "reduce_source": "archread.parsers.pipeline"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'archread.parsers' has no attribute {name!r}")
