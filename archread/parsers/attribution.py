"""Which pass removed each line of the original: "what did you remove, and why?"

The passes run cumulatively (the first one, then the first two, …); a line of the original that survives
step k−1 and not step k was removed by pass k. Seventeen reductions, so the UI runs this in a worker.
"""

from __future__ import annotations

import difflib

from archread.parsers.config_defaults import default_values
from archread.parsers.context import PassContext
from archread.parsers.fastcst import code_of, transform
from archread.parsers.pipeline import Chain, _passes, parse
from archread.parsers.runnable_defaults import runnable_values
from archread.parsers.source import Source


def _surviving(original: list[str], code: str) -> set[int]:
    matcher = difflib.SequenceMatcher(a=original, b=code.splitlines(), autojunk=False)
    return {i for tag, a0, a1, _, _ in matcher.get_opcodes() if tag == "equal" for i in range(a0, a1)}


def attribute(source: Source, config: dict | None = None) -> list[tuple[str, str | None]]:
    """(line, name of the pass that removed it, or None where the line is kept) for every original line, for
    the reading `reduce_source(source, config)` gives: the same passes, the configuration's values folded."""
    original = source.text.splitlines()
    module = parse(source, {})
    defaults = config is None
    if defaults:
        config, _ = default_values(source.path)
        config = {**config, **runnable_values(source.path, config)[0]}
    passes = _passes(config)
    label: list[str | None] = [None] * len(original)
    alive = set(range(len(original)))
    for k in range(1, len(passes) + 1):
        ctx = PassContext(folder=source.path.parent, config=config, defaults=defaults)
        now = _surviving(original, code_of(transform(module, Chain([cls(ctx) for cls in passes[:k]]))))
        for i in alive - now:
            label[i] = passes[k - 1].NAME
        alive &= now
    return [(line, None if not line.strip() and lab is None else lab) for line, lab in zip(original, label)]
