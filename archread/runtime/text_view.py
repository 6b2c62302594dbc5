"""A vision-language repo seen as its language model alone: the same files, under a config.json of the language
model's own (parsers.language_model), so that every step of verify runs on it as on any causal LM repo."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archread.parsers.language_model import LanguageModel


@contextmanager
def text_view(folder: Path, language: LanguageModel) -> Iterator[Path]:
    """A temporary folder of the repo's name holding links to its files and the language model's config.json."""
    with tempfile.TemporaryDirectory(prefix="archread-text-") as tmp:
        view = Path(tmp) / folder.name  # the repo's name: code that imports the repo by it still finds it
        view.mkdir()
        for path in folder.iterdir():
            if path.name != "config.json":
                (view / path.name).symlink_to(path.absolute())
        (view / "config.json").write_text(json.dumps(language.config, indent=1), encoding="utf-8")
        yield view
