"""Each pass's own STRIP/KEEP examples, run through that pass plus the folding and layout passes."""

import libcst as cst
import pytest

from archread.parsers.context import PassContext
from archread.parsers.fastcst import code_of, remembering, transform
from archread.parsers.libcst_patches import parse_module, speedups
from archread.parsers.passes import PASSES
from archread.parsers.passes.config_values import ConfigValues
from archread.parsers.passes.format import Format
from archread.parsers.passes.simplify import Simplify
from archread.parsers.pipeline import Chain


def run(pass_cls, code: str) -> str:
    """The pass, then folding and layout, through the walk a reduction runs (fastcst's, its facts remembered,
    libcst's methods replaced as in a reduction)."""
    ctx = PassContext(config=getattr(pass_cls, "CONFIG", None))
    chain = [pass_cls(ctx)] + [p(ctx) for p in (Simplify, Format) if p is not pass_cls]
    with remembering(), speedups():
        return code_of(transform(parse_module(code), Chain(chain)))


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


def test_a_selective_rewrite_keeps_the_statements_it_leaves():
    from archread.parsers.analysis.rewrite import ReplaceReads, Targeted
    from archread.parsers.fastcst import transform, walk

    fn = cst.parse_statement("def f(x, y):\n    a = g(x)\n    b = h(y, key=x)\n    if y:\n        return a.x + b\n    return y\n")
    replaced = transform(fn, ReplaceReads({"x": lambda: cst.Name("z")}))
    assert cst.Module([replaced]).code == (
        "def f(z, y):\n    a = g(z)\n    b = h(y, key=z)\n    if y:\n        return a.x + b\n    return y\n")
    assert [a is b for a, b in zip(replaced.body.body, fn.body.body)] == [False, False, True, True]  # not rebuilt

    call = next(n for n in walk(fn) if type(n) is cst.Call and n.func.value == "h")

    class DropKeywords(Targeted):
        targets = {id(call)}

        def leave_Call(self, original, updated):
            return updated.with_changes(args=updated.args[:1]) if id(original) in self.targets else updated

    dropped = transform(fn, DropKeywords())
    assert "b = h(y, )" in cst.Module([dropped]).code  # the one call rewritten (its comma is not this test's)
    assert [a is b for a, b in zip(dropped.body.body, fn.body.body)] == [True, False, True, True]
