"""Stand-ins for packages the remote code imports unconditionally but that cannot be installed here (a CUDA-only
torchvision, an xformers, a logger whose own dependency has no wheel): the repo's vision tower or training hooks
need them, its text path does not. The original runs with an inert module in their place, so that it can run at
all, and the stand-in makes sure it can never change the numbers:

- importing it and reading its names works (`from torchvision import transforms`), and so does calling them while
  the model is built (`transforms.Compose([...])` in a vision tower's `__init__`): each gives another stand-in;
- once the model computes, any call of one raises, and so does any use as a value (arithmetic, `len`, `bool`, a
  tensor made of it), at any time: nothing the package would have computed can reach the outputs unseen;
- an import the repo writes inside a `try:` still fails, as it does without the package: the code keeps its own
  fallback instead of taking the package's path.

The report names each stand-in and what the building called of it."""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from contextlib import contextmanager
from pathlib import Path

from archread.errors import ArchreadError
from archread.runtime.repo_files import inside_try, parsed_files

# why: package → the reason it cannot be installed; installed: the (package, repo) pairs a finder serves;
# codes: the guarded import lines of code run from text (a reduced module, `<reduced …>`), which every finder serves
_state = {"computing": False, "built_with": [], "why": {}, "installed": set(), "codes": {}}


class StandInUsed(ArchreadError):
    """The original used a stand-in's value while computing: the package's work would reach the outputs."""


def _used(path: str, how: str):
    package = path.split(".")[0]
    raise StandInUsed(f"the original {how} {path}, stood in for because {_state['why'].get(package, 'it cannot be installed here')}")


class _Absent(type):
    """The type of every stand-in: a class, so that the repo may subclass it or test isinstance against it."""

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):  # protocol look-ups (`__wrapped__`, `__version__`)
            raise AttributeError(name)
        return _stand_in(f"{cls._path}.{name}")

    def __call__(cls, *args, **kwargs):
        if _state["computing"]:
            _used(cls._path, "calls")
        _state["built_with"].append(cls._path)
        return _stand_in(f"{cls._path}(…)")

    def __bool__(cls):
        _used(cls._path, "tests the truth of")

    def __eq__(cls, other):  # against a value (`config.kind == pkg.Kind.X`) it would decide a branch unseen
        if other is None or isinstance(other, type):  # against a class: identity, as for any class (typing's dedup)
            return cls is other
        _used(cls._path, "compares a value with")

    def __ne__(cls, other):
        return not _Absent.__eq__(cls, other)

    __hash__ = type.__hash__

    def __len__(cls):
        _used(cls._path, "takes the length of")

    def __iter__(cls):
        _used(cls._path, "iterates over")

    def __index__(cls):
        _used(cls._path, "uses as a number")

    __int__ = __float__ = __index__


def _operator(name: str):
    def refuse(cls, *args):
        _used(cls._path, f"computes ({name}) with")
    return refuse


for _name in ("add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "mod", "neg", "lt", "le", "gt", "ge",
              "getitem", "contains"):
    for _dunder in (f"__{_name}__", f"__r{_name}__"):
        setattr(_Absent, _dunder, _operator(_name))


def _stand_in(path: str) -> type:
    return _Absent(path.rpartition(".")[2] or path, (), {"_path": path, "__module__": path.partition(".")[0]})


class _StandInModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _stand_in(f"{self.__name__}.{name}")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a stand-in for the packages named (and their submodules) where the repo's own code imports them
    outside a `try:`; transformers probing what is installed, or a guarded import, finds nothing, as before."""

    def __init__(self, packages: set[str], repo: Path):
        self.packages, self.guarded = packages, _guarded_import_lines(repo)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in self.packages or not self._asked_plainly_by_the_repo():
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = _StandInModule(spec.name)
        module.__path__ = []  # a package: `import torchvision.transforms.functional` finds stand-ins too
        return module

    def exec_module(self, module):
        pass

    def _asked_plainly_by_the_repo(self) -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            lines = _state["codes"].get(name) if name.startswith("<") else self.guarded.get(str(Path(name).resolve()))
            if lines is not None:  # the innermost frame of the repo's own files: the import statement itself
                return frame.f_lineno not in lines
            frame = frame.f_back
        return False


def _guarded_import_lines(repo: Path) -> dict[str, set[int]]:
    """file → the lines of its imports written inside a `try:` (every file of the repo, guarded or not, is a key)."""
    return {str(path.resolve()): _guarded_lines(tree) for path, tree in parsed_files(repo)}


def _guarded_lines(tree: ast.Module) -> set[int]:
    guarded = inside_try(tree)
    return {line for n in ast.walk(tree) if id(n) in guarded and isinstance(n, (ast.Import, ast.ImportFrom))
            for line in range(n.lineno, (n.end_lineno or n.lineno) + 1)}


def register_code(filename: str, text: str) -> None:
    """Code run from text under `filename` (a reduced module) imports through the stand-ins as the repo's files do."""
    _state["codes"][filename] = _guarded_lines(ast.parse(text))


def install(packages: dict[str, str], repo: Path) -> None:
    """Put stand-ins for these top-level packages (name → why it cannot be installed) ahead of everything else on
    the import path, for the repo's own imports."""
    new = {k: v for k, v in packages.items() if (k, repo.resolve()) not in _state["installed"]}
    if new:
        _state["why"].update(new)
        _state["installed"].update((k, repo.resolve()) for k in new)
        sys.meta_path.insert(0, _Finder(set(new), repo))


def repo_import(exc: BaseException, repo: Path, code: tuple[str, str] | None = None) -> str | None:
    """The top-level package that the repo's own import statement (or that of `code`: (filename, text) of code run
    from text) asked for, where an import error raised deep in it (`import wandb` failing on wandb's own
    `opentelemetry`) came through one written outside a `try:`."""
    texts = {code[0]: code[1]} if code else {}
    guarded, found = {**_guarded_import_lines(repo), **{k: _guarded_lines(ast.parse(v)) for k, v in texts.items()}}, None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        path = name if name in texts else str(Path(name).resolve())
        if path in guarded:
            found = (path, tb.tb_lineno)
        tb = tb.tb_next
    if found is None or found[1] in guarded[found[0]]:
        return None
    tree = ast.parse(texts[found[0]] if found[0] in texts else Path(found[0]).read_text(encoding="utf-8", errors="replace"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno <= found[1] <= (node.end_lineno or node.lineno):
            if isinstance(node, ast.ImportFrom):
                return node.module.split(".")[0] if node.level == 0 and node.module else None
            return next((a.name.split(".")[0] for a in node.names if importlib.util.find_spec(a.name.split(".")[0]) is None),
                        node.names[0].name.split(".")[0])
    return None


def stood_in(repo: Path) -> dict[str, dict]:
    """For the report: each stand-in for the repo, why its package is not installed, and what building the model
    called of it."""
    calls = list(dict.fromkeys(_state["built_with"]))
    return {name: {"why": why, "built_with": [c for c in calls if c.split(".")[0] == name]}
            for name, why in _state["why"].items() if (name, repo.resolve()) in _state["installed"]}


@contextmanager
def computing():
    """While the model runs: a call of a stand-in raises."""
    _state["computing"] = True
    try:
        yield
    finally:
        _state["computing"] = False
