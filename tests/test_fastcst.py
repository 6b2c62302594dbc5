"""fastcst gives libcst's results: parse_module is cst.parse_module, transform(node, t) is node.visit(t) (the
same hooks in the same order, the same tree) and code_of(node) is the code libcst writes."""

import dataclasses

import libcst as cst
import pytest
from libcst.metadata import PositionProvider

from archread.parsers import fastcst, libcst_patches, resolve
from archread.parsers.context import PassContext
from archread.parsers.fastcst import code_of, remembered, remembering, transform, walk
from archread.parsers.libcst_patches import parse_module, speedups
from archread.parsers.passes import PASSES
from archread.parsers.pipeline import Chain


class Recorder(cst.CSTTransformer):
    """Logs every hook libcst calls, in order."""

    def __init__(self):
        super().__init__()
        self.log = []

    def on_visit(self, node):
        self.log.append(("visit", type(node).__name__))
        return True

    def on_leave(self, original, updated):
        self.log.append(("leave", type(original).__name__))
        return updated


class Rewrites(cst.CSTTransformer):
    """A removal, a flattening, an optional field emptied, a renaming and a skipped subtree."""

    def visit_ClassDef(self, node):
        return node.name.value != "LlamaMLP"  # its children are not visited: its names stay

    def leave_Expr(self, original, updated):  # docstrings and bare calls go; a line left empty goes with them
        return cst.RemovalSentinel.REMOVE

    def leave_Return(self, original, updated):  # `return x` -> `return`
        return updated.with_changes(value=None)

    def leave_Pass(self, original, updated):
        return cst.FlattenSentinel([updated, updated.deep_clone()])

    def leave_Name(self, original, updated):
        return updated.with_changes(value="h") if updated.value == "hidden_states" else updated

    def leave_Param(self, original, updated):  # `x=None` -> `x`: a sentinel field emptied
        return updated.with_changes(default=None, equal=cst.MaybeSentinel.DEFAULT) if updated.default else updated


def _mlp(module):
    return next(s for s in module.body if type(s) is cst.ClassDef and s.name.value == "LlamaMLP")


@pytest.fixture(autouse=True)
def _speedups():
    """archread's versions of libcst's methods, as a reduction has them: the tests hold them to libcst's."""
    with speedups():
        yield


@pytest.fixture(scope="module")
def llama():
    return cst.parse_module(resolve("llama").text)


def test_parse_module_builds_libcsts_tree(llama):
    assert parse_module(llama.code).deep_equals(llama)
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def f(:\n")
    with pytest.raises(cst.CSTValidationError):  # validation is back for the nodes the passes build
        cst.Name("not a name")


def test_hooks_run_in_libcsts_order(llama):
    ours, theirs = Recorder(), Recorder()
    transform(llama, ours)
    llama.visit(theirs)
    assert len(ours.log) > 10_000 and ours.log == theirs.log


def test_rewrites_give_libcsts_result(llama):
    ours, theirs = transform(llama, Rewrites()), llama.visit(Rewrites())
    assert ours.code == theirs.code and ours.deep_equals(theirs)
    assert ours.code_for_node(_mlp(ours)) == llama.code_for_node(_mlp(llama))  # not visited, not changed
    assert ours.code != llama.code


def test_an_unchanged_tree_is_not_rebuilt(llama):
    assert transform(llama, Recorder()) is llama


def test_a_required_node_cannot_be_removed():
    class DropTest(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return cst.RemovalSentinel.REMOVE if updated.value == "c" else updated

    with pytest.raises(TypeError):
        transform(cst.parse_module("if c:\n    pass\n"), DropTest())


def test_code_of_writes_libcsts_code(llama):
    assert code_of(llama) == llama.code
    tabbed = cst.parse_module("class A:\r\n\tdef f(self):\r\n\t\treturn 1\r\n")
    assert code_of(tabbed) == tabbed.code  # the module's own indent and newline
    inner = cst.Module(body=[])
    for cls in (s for s in llama.body if type(s) is cst.ClassDef):
        assert code_of(cls) == inner.code_for_node(cls)
        for fn in (s for s in cls.body.body if type(s) is cst.FunctionDef):
            assert code_of(fn.params) == inner.code_for_node(fn.params)


def test_a_hooked_leaf_is_visited(llama):
    class Shout(cst.CSTTransformer):  # comments are leaves: skipped only where nothing hooks them
        def leave_Comment(self, original, updated):
            return updated.with_changes(value=updated.value.upper())

    ours = transform(llama, Shout())
    assert ours.code == llama.visit(Shout()).code and "# COPYRIGHT" in ours.code


def test_the_chain_of_passes_gives_libcsts_reduction(llama):
    ours = transform(llama, Chain([cls(PassContext()) for cls in PASSES]))
    theirs = llama.visit(Chain([cls(PassContext()) for cls in PASSES]))
    assert code_of(ours) == theirs.code and len(theirs.code) < len(llama.code) // 2


def _preorder(node, layout: bool):
    """Every node under node, parents first, fields and lists in order: what walk gives, the plain way."""
    yield node
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if not layout and (field.name in fastcst._LAYOUT or field.name.startswith("whitespace")):
            continue
        for child in value if type(value) in (list, tuple) else (value,):
            if isinstance(child, cst.CSTNode):
                yield from _preorder(child, layout)


def test_remembered_walks_read_as_walks(llama):
    rewritten = transform(llama, Rewrites())  # shares most statements with llama
    plain = [list(_preorder(tree, False)) for tree in (llama, rewritten, _mlp(rewritten))]
    laid_out = list(_preorder(llama, True))
    assert len(plain[0]) > 2_000 and len(laid_out) > len(plain[0])
    assert [list(walk(tree)) for tree in (llama, rewritten, _mlp(rewritten))] == plain
    assert list(walk(llama, layout=True)) == laid_out
    with remembering():
        for _ in range(2):  # read, then read again from what was kept
            assert [list(walk(tree)) for tree in (llama, rewritten, _mlp(rewritten))] == plain
        assert list(walk(llama, layout=True)) == laid_out
    assert fastcst._THREAD.kept is None  # released with the block


def test_positions_are_recorded_as_libcst_records_them():
    # the parentheses and brackets are written by archread's context manager: a node's syntactic position
    # still lies inside its parentheses, and a list's brackets are still its own
    wrapper = cst.MetadataWrapper(cst.parse_module("x = (a + b)\ny = [c, (d)]\n"))
    positions = wrapper.resolve(PositionProvider)
    found = {code_of(n): (p.start.line, p.start.column, p.end.line, p.end.column) for n, p in positions.items()
             if type(n) in (cst.BinaryOperation, cst.List, cst.Name)}
    assert found["(a + b)"] == (1, 5, 1, 10) and found["[c, (d)]"] == (2, 4, 2, 12) and found["(d)"] == (2, 9, 2, 10)


def test_with_changes_is_libcsts(llama):
    for node in list(walk(llama))[:2_000]:
        field = dataclasses.fields(node)[0].name
        ours = node.with_changes(**{field: getattr(node, field)})
        assert ours is not node and ours.deep_equals(dataclasses.replace(node, **{field: getattr(node, field)}))
    with pytest.raises(cst.CSTValidationError):  # validated as libcst validates
        cst.Name("x").with_changes(value="not a name")
    with pytest.raises(TypeError):
        cst.Name("x").with_changes(valu="y")


def test_facts_are_remembered_only_inside_a_reduction():
    node, asked = cst.Name("x"), []

    def fact():
        asked.append(1)
        return len(asked)

    assert remembered("f", node, fact) == 1 and remembered("f", node, fact) == 2  # outside: computed each time
    with remembering():
        assert remembered("f", node, fact) == 3 and remembered("f", node, fact) == 3
        assert remembered("g", node, fact) == 4  # another fact of the same node
    assert remembered("f", node, fact) == 5


def test_speedups_are_in_place_only_inside_a_reduction():
    from libcst._nodes import expression

    with speedups():  # nested inside the fixture's: one installation
        assert cst.CSTNode.with_changes is libcst_patches._with_changes
    assert cst.CSTNode.with_changes is libcst_patches._with_changes  # the fixture's block still holds it
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(expression.BaseList._bracketize is libcst_patches._bracketize))
    thread.start()
    thread.join()
    assert seen == [True]  # in place for the process while any reduction runs: it writes what libcst writes


def test_libcsts_own_methods_outside_speedups():
    import subprocess
    import sys

    code = ("import libcst as cst; from archread.parsers import libcst_patches\n"
            "before = cst.CSTNode.with_changes\n"
            "with libcst_patches.speedups(): inside = cst.CSTNode.with_changes\n"
            "print(before is not libcst_patches._with_changes, inside is libcst_patches._with_changes, cst.CSTNode.with_changes is before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True"]


def test_a_method_not_as_expected_keeps_libcsts_with_a_warning(monkeypatch):
    import subprocess
    import sys

    # another libcst: its with_changes does something else; archread's must not replace it
    code = ("import warnings, libcst as cst; from archread.parsers import fastcst, libcst_patches\n"
            "def other(self, **changes):\n    return cst.CSTNode.__dict__['deep_replace']\n"
            "cst.CSTNode.with_changes = other\n"
            "with warnings.catch_warnings(record=True) as w:\n    warnings.simplefilter('always')\n"
            "    with libcst_patches.speedups():\n        kept = cst.CSTNode.with_changes is other\n"
            "        code = fastcst.code_of(cst.parse_expression('(a + [b, {c}])'))\n"
            "print(kept, any('with_changes' in str(x.message) for x in w), code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "(a", "+", "[b,", "{c}])"]


def test_a_parse_skips_validation_in_its_own_thread_only(monkeypatch):
    """While one thread parses (validation off for its nodes), another building a node still validates it."""
    import threading

    started, done, errors = threading.Event(), threading.Event(), []

    def build():
        started.wait()
        try:
            cst.Name("not a name")
        except cst.CSTValidationError as exc:
            errors.append(exc)
        done.set()

    real = cst.parse_module

    def slow_parse(text):  # the other thread builds its node in the middle of this parse
        started.set()
        done.wait(10)
        return real(text)

    monkeypatch.setattr(cst, "parse_module", slow_parse)
    worker = threading.Thread(target=build)
    worker.start()
    parse_module("x = 1\n")
    worker.join()
    assert len(errors) == 1
