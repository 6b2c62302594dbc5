"""Failures of the original that are its own code's, not a release's: said as what the code does, so the reason a
repo gets no verdict names the line to look at.

- A repo file that runs code at import (a test left at module level: `c = AutoConfig.from_pretrained('aaa')`)
  fails where that code does, under every release: the file and line are named, not only the error.
- Code that reads a configuration field its configuration class does not define (`config.eager_idx`, which the
  repo's own script sets by hand) fails on a configuration built from the class, under every release.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from archread.errors import one_line


def import_fault(exc: BaseException, folder: Path) -> str | None:
    """`modeling_x.py:1859 runs `c = …` at import` where the import failed inside a statement of a repo file's own
    module-level code that is no import (an import that fails is the imported module's failure, said as it is)."""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if frame.name != "<module>" or not _inside(path, folder):
            continue
        line = (frame.line or "").strip()
        if line and not line.startswith(("import ", "from ")):
            return f"{path.name}:{frame.lineno} runs `{line}` at import, which fails ({type(exc).__name__}: {one_line(exc)})"
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


_CONFIG_BASES = ("PretrainedConfig", "PreTrainedConfig")


def unset_field(exc: BaseException, config_file: Path | None) -> str | None:
    """`reads config.eager_idx, which MiniCPM3Config does not define…` where exc is the AttributeError of reading a
    field off a transformers configuration that lacks it (the object read is the configuration itself)."""
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if not isinstance(exc, AttributeError) or obj is None or not name or not any(
            c.__name__ in _CONFIG_BASES and c.__module__.split(".")[0] == "transformers" for c in type(obj).__mro__):
        return None
    where = f"{config_file.name} does not set it" if config_file is not None else "no config.json sets it"
    return (f"the original reads config.{name}, which {type(obj).__name__} does not define and {where} "
            "(--config with a config.json that does)")
