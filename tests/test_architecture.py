"""The layers' contracts, read off the import statements of archread/ (every one, inside functions too: an
import moved into a function to break a cycle still makes one).

- no import cycle anywhere in archread/;
- a strip pass imports no other pass (only `passes/base`; what passes share lives in `parsers/analysis/`), and
  the analysis layer imports no pass;
- the parsers import neither the runtime, the UI, torch nor textual; the diff neither the runtime nor the UI.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archread"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolved(name: str) -> str:
    """The module an imported name is: `archread.parsers.fastcst` for `from archread.parsers import fastcst`."""
    return name if name in MODULES or not name.startswith("archread") else name.rsplit(".", 1)[0]


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            found.add(base)
            found.update(_resolved(f"{base}.{a.name}") for a in node.names if f"{base}.{a.name}" in MODULES)
    return {_resolved(n) for n in found}


GRAPH = {m: {i for i in imports_of(m) if i in MODULES and i != m} for m in MODULES}


def _reaches(start: str, target: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        for nxt in GRAPH[current]:
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _cycles() -> list[tuple[str, str]]:
    """Pairs of modules that import each other through some path (each edge that closes a cycle)."""
    return sorted((a, b) for a in GRAPH for b in GRAPH[a] if _reaches(b, a))


def test_the_graph_is_read():  # the checks below would pass on an empty graph
    assert len(MODULES) > 60 and "archread.parsers.fastcst" in GRAPH["archread.parsers.pipeline"]
    assert "archread.parsers.analysis.names" in GRAPH["archread.parsers.passes.base"]
    assert "archread.parsers.fastcst" in imports_of("archread.parsers.analysis.nodes")


def test_no_import_cycle():  # function-level imports count: one inside a function cannot hide a cycle
    assert _cycles() == []


PASSES = [m for m in MODULES if m.startswith("archread.parsers.passes.") and m.rsplit(".", 1)[1] != "base"]


@pytest.mark.parametrize("module", PASSES)
def test_a_pass_imports_no_other_pass(module):
    others = {i for i in imports_of(module) if i.startswith("archread.parsers.passes")} - {"archread.parsers.passes.base"}
    assert others == set()


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("archread.parsers.analysis")])
def test_the_analyses_import_no_pass(module):
    assert not {i for i in imports_of(module) if i.startswith("archread.parsers.passes")}


def _forbidden(prefix: str, banned: tuple[str, ...]) -> dict[str, set[str]]:
    return {m: bad for m in MODULES if m == prefix or m.startswith(prefix + ".")
            if (bad := {i for i in imports_of(m) if i.split(".")[0] in banned or i.startswith(banned)})}


def test_the_parsers_import_neither_runtime_ui_torch_nor_textual():
    assert _forbidden("archread.parsers", ("archread.runtime", "archread.ui", "torch", "textual")) == {}


def test_the_diff_imports_neither_runtime_nor_ui():
    assert _forbidden("archread.diff", ("archread.runtime", "archread.ui")) == {}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):  # a module past that does several jobs: split it by them
    assert len(MODULES[module].read_text(encoding="utf-8").splitlines()) <= 400


def test_ruff_finds_nothing():  # the lint configuration in pyproject.toml, over the whole checkout
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", str(ROOT)],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr
