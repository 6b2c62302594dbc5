"""Each pass's own STRIP/KEEP examples, run through that pass plus the folding and layout passes."""

import libcst as cst
import pytest

from archread.parsers.context import PassContext
from archread.parsers.passes import PASSES
from archread.parsers.passes.config_values import ConfigValues
from archread.parsers.passes.format import Format
from archread.parsers.passes.simplify import Simplify
from archread.parsers.pipeline import Chain


def run(pass_cls, code: str) -> str:
    ctx = PassContext(config=getattr(pass_cls, "CONFIG", None))
    chain = [pass_cls(ctx)] + [p(ctx) for p in (Simplify, Format) if p is not pass_cls]
    return cst.parse_module(code).visit(Chain(chain)).code


def norm(code: str) -> str:
    return "\n".join(line for line in code.strip().splitlines() if line.strip())


UNIQUE = list(dict.fromkeys([*PASSES, ConfigValues]))  # a pass may run twice; its examples run once
STRIP = [(p, before, after) for p in UNIQUE for before, after in p.STRIP]
KEEP = [(p, code) for p in UNIQUE for code in p.KEEP]


def test_every_pass_carries_examples():
    for p in UNIQUE:
        assert p.DESCRIPTION and p.STRIP and p.KEEP, p.__name__


@pytest.mark.parametrize("pass_cls,before,after", STRIP, ids=[f"{p.NAME}-{i}" for i, (p, _, _) in enumerate(STRIP)])
def test_strip(pass_cls, before, after):
    assert norm(run(pass_cls, before)) == norm(after)


@pytest.mark.parametrize("pass_cls,code", KEEP, ids=[f"{p.NAME}-{i}" for i, (p, _) in enumerate(KEEP)])
def test_keep(pass_cls, code):
    assert norm(run(pass_cls, code)) == norm(run(Format, code))
