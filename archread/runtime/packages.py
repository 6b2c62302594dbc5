"""Packages that remote code imports and neither this environment nor the release has (einops, requests, …):
brought from the registry into the folder the original runs with — the release's own, or one beside it for the
installed release — one wheel at a time, as the original's imports ask for them. A package with no wheel is
built from source (a compiler, often CUDA: flash-attn, mamba-ssm) and is named in one line instead."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from archread.errors import ArchreadError, one_line
from archread.runtime import stand_ins
from archread.runtime.repo_files import inside_try, parsed_files

ATTEMPTS = 8  # packages brought for one original at most (each retry imports the repo afresh)
# import names whose distribution is named otherwise; the registry cannot be asked which distribution
# provides a module, so these few well-known ones are spelled out, the rest is the import name
_DISTRIBUTION = {"PIL": "pillow", "cv2": "opencv-python-headless", "yaml": "pyyaml", "sklearn": "scikit-learn",
                 "attr": "attrs", "google": "protobuf", "dateutil": "python-dateutil",
                 "olmo": "ai2-olmo", "pkg_resources": "setuptools<81"}  # setuptools 81 took pkg_resources out


def _requirement(module: str) -> tuple[str, str]:
    """(the distribution that provides `module`, the requirement pip installs it by)."""
    requirement = _DISTRIBUTION.get(module, module.replace("_", "-"))
    return re.split(r"[<>=!~]", requirement)[0], requirement


class PackageUnavailable(ArchreadError):
    """A package the original imports has no wheel that runs with this torch (a compiler, a CUDA build): no other
    transformers release changes that."""


class MissingPackage(ArchreadError):
    """The original imports a top-level module that nothing on the path provides; `imported_by`: the package the
    repo's own unguarded import asked for, through which it came (itself, or one that needs it)."""

    def __init__(self, message: str, module: str, imported_by: str | None = None):
        super().__init__(message)
        self.module, self.imported_by = module, imported_by


def missing_module(exc: BaseException) -> str | None:
    """The top-level module an import error says is absent, where nothing provides it (not a renamed submodule
    of a package that is there, nor one of the repo's own files)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or exc.name.startswith("archread_repo_"):
        return None
    top = exc.name.split(".")[0]
    return top if importlib.util.find_spec(top) is None else None


def extension_built_at_import(exc: BaseException) -> str | None:
    """Where importing a package compiled a C++/CUDA extension (`torch.utils.cpp_extension.load` at its import,
    flash-rwkv's kernels) and failed: that package and why, in words. No release changes it."""
    frames = traceback.extract_tb(exc.__traceback__)
    builder = next((i for i, f in enumerate(frames) if Path(f.filename).match("torch/utils/cpp_extension.py")), None)
    if builder is None:
        return None
    caller = Path(frames[builder - 1].filename) if builder else None
    while caller is not None and (caller.parent / "__init__.py").is_file():  # up to the top of its package
        caller = caller.parent
    package = caller.name if caller is not None else "a package"
    return (f"{package} compiles a C++/CUDA extension when imported (torch.utils.cpp_extension), which needs CUDA "
            f"and a compiler: GPU-only here ({type(exc).__name__}: {one_line(exc)})")


def bring(module: str, folder: Path) -> None:
    """Install the distribution of `module` (no dependencies: each comes when its own import asks) into folder.
    A wheel built against another torch (torchvision, torchaudio and xformers pin `torch==X`) is taken out again
    and the release of it that this torch's requirement admits is installed instead, as pip's resolver picks it;
    one whose extension links a torch library this torch lacks (a CUDA build on a CPU torch) is named."""
    distribution, requirement = _requirement(module)
    folder.mkdir(parents=True, exist_ok=True)
    _install(module, requirement, folder)
    pin = _take_out_another_torch(distribution, folder)
    ours = _torch_version()
    if pin is not None:
        matching = matching_release(distribution, ours)
        if matching is None:
            raise PackageUnavailable(f"the remote code imports {distribution}, whose wheel needs torch {pin} (this is torch "
                                f"{ours}), and no release of {distribution} for this torch installs: install a matching one")
        _install(module, f"{distribution}=={matching}", folder)
        if _take_out_another_torch(distribution, folder) is not None:
            raise PackageUnavailable(f"the remote code imports {distribution}, and {distribution} {matching} still needs "
                                f"another torch than {ours}: install a matching one to run it")
    lacking = _take_out_if_built_for_another_torch(distribution, folder)
    if lacking:
        raise PackageUnavailable(f"GPU-only here: the remote code imports {distribution}, whose wheel for torch {ours} is a "
                                 f"CUDA build (its extension links {lacking}, which this torch lacks)")


def _install(module: str, requirement: str, folder: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                             "--only-binary=:all:", "--target", str(folder), requirement], capture_output=True, text=True)
    if result.returncode == 0:
        return
    last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
    if "no matching distribution" in last.lower():
        raise PackageUnavailable(f"the remote code imports {module}, and {requirement} has no wheel for this machine: "
                                 "it builds from source (a compiler, often CUDA), or its module ships in a "
                                 "distribution named otherwise")
    raise ArchreadError(f"the remote code imports {module}; installing {requirement} failed: {last}")


def _torch_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("torch").split("+")[0]


def matching_release(distribution: str, torch_version: str) -> str | None:
    """The newest release of distribution whose requirements admit this torch: pip's resolver asked, without
    installing anything, for the distribution beside `torch==<this one>` (the installed torch satisfies it)."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q", "--disable-pip-version-check",
                             "--only-binary=:all:", "--report", "-", distribution, f"torch=={torch_version}"],
                            capture_output=True, text=True)
    try:
        report = json.loads(result.stdout) if result.returncode == 0 else {}
    except json.JSONDecodeError:
        return None
    wanted = _canonical(distribution)
    versions = [item["metadata"]["version"] for item in report.get("install", [])
                if _canonical(item.get("metadata", {}).get("name", "")) == wanted]
    return versions[0] if versions else None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _take_out_another_torch(distribution: str, folder: Path) -> str | None:
    """A wheel built against one torch release (torchvision pins `torch==X`) breaks every import of this one's:
    it is taken out again, and its requirement on torch returned."""
    from packaging.requirements import Requirement

    info = _dist_info(distribution, folder)
    if info is None or not (info / "METADATA").is_file():
        return None
    ours = _torch_version()
    needs = [Requirement(line.removeprefix("Requires-Dist:").strip()) for line in (info / "METADATA").read_text().splitlines()
             if re.match(r"Requires-Dist:\s*torch\b(?![-_.\w])", line)]
    pins = [str(r.specifier) for r in needs if r.name == "torch" and r.specifier and not r.marker
            and not r.specifier.contains(ours, prereleases=True)]
    if not pins:
        return None
    _take_out(info, folder)
    return pins[0]


def _dist_info(distribution: str, folder: Path) -> Path | None:
    wanted = _canonical(distribution.split("==")[0])
    return next((i for i in folder.glob("*.dist-info") if _canonical(i.name.split("-")[0]) == wanted), None)


def _recorded(info: Path, folder: Path) -> list[Path]:
    """The files a wheel's RECORD lists, inside folder."""
    lines = (info / "RECORD").read_text().splitlines() if (info / "RECORD").is_file() else []
    return [folder / line.split(",")[0] for line in lines if line and not line.startswith(("../", "/"))]


def _take_out(info: Path, folder: Path) -> None:
    for top in {folder / path.relative_to(folder).parts[0] for path in _recorded(info, folder)}:
        if top.name in ("", "..", "bin"):  # scripts and paths outside: left alone
            continue
        shutil.rmtree(top, ignore_errors=True) if top.is_dir() else top.unlink(missing_ok=True)
    shutil.rmtree(info, ignore_errors=True)


# a library of torch's own (libtorch_cuda.so, libc10.so; not a package's libtorchaudio.so) named in an extension's
# dynamic string table
_TORCH_LIBRARY = re.compile(rb"(lib(?:torch|c10)(?:_\w+)?\.so)\0")


def _take_out_if_built_for_another_torch(distribution: str, folder: Path) -> str | None:
    """A compiled extension that links a library of torch's own (libtorch_cuda.so, libc10_cuda.so) this torch's
    lib folder lacks cannot load here: the wheel is taken out again and the library returned."""
    info = _dist_info(distribution, folder)
    spec = importlib.util.find_spec("torch")
    if info is None or spec is None or not spec.submodule_search_locations:
        return None
    ours = Path(list(spec.submodule_search_locations)[0]) / "lib"
    for path in (p for p in _recorded(info, folder) if p.suffix == ".so" or ".so." in p.name):
        try:
            linked = {m.decode() for m in _TORCH_LIBRARY.findall(path.read_bytes())}
        except OSError:
            continue
        lacking = sorted(name for name in linked if not (ours / name).exists())
        if lacking:
            _take_out(info, folder)
            return lacking[0]
    return None


def with_packages(attempt, folder: Path, repo: Path | None = None):
    """attempt(), bringing each package it reports missing into folder (on sys.path) and trying again; one that
    cannot be installed here, where the repo imports it unconditionally, is stood in for (runtime/stand_ins.py)."""
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    brought, before = set(), entries(folder)
    while True:
        try:
            return attempt()
        except MissingPackage as exc:
            if exc.module in brought or len(brought) >= ATTEMPTS:
                take_out_new(folder, before)
                raise
            brought.add(exc.module)
            unavailable = bring_or_why(exc.module, folder, exc.imported_by if repo is not None else None)
            if not exc.imported_by:  # not the repo's chain: the framework's own need, kept whatever comes
                before = entries(folder)
            if unavailable is not None:
                stand_ins.install({exc.imported_by: unavailable}, repo)
            importlib.invalidate_caches()


def entries(folder: Path) -> set[str]:
    """What the folder holds now: what a run that gives up takes out again is what it added."""
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def take_out_new(folder: Path, before: set[str]) -> None:
    """Remove what was brought into folder since `before`: a chain of packages the repo's imports began, left
    half-installed (ai2-olmo's `datasets` without pyarrow), would break every later original there (transformers
    imports what it finds). What transformers itself needed (`requests`) the callers count in `before`."""
    for name in entries(folder) - before:
        path = folder / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def bring_or_why(module: str, folder: Path, stand_in_for: str | None) -> str | None:
    """bring(module); where it cannot be installed and the repo's unguarded import of `stand_in_for` led to it, why
    not (the caller stands in for that package), else PackageUnavailable raised as ever."""
    try:
        bring(module, folder)
    except PackageUnavailable as exc:
        if stand_in_for is None:
            raise
        return str(exc)
    return None


_NO_PURE_WHEEL = ".archread-no-pure-wheel"  # in the target folder: guarded imports tried once, without success


def guarded_imports(repo: Path) -> set[str]:
    """Top-level modules the repo's files import inside a `try:` (its own optional paths: `einops`, `flash_attn`)."""
    found = set()
    for _, tree in parsed_files(repo):
        guarded = inside_try(tree)
        for node in (n for n in ast.walk(tree) if id(n) in guarded):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and not (repo / f"{m}.py").is_file()}


def bring_guarded(repo: Path, folder: Path) -> None:
    """Bring each module a guarded import asks for where a pure-Python wheel of it exists: code that runs without
    it may still require it later (Qwen's rotary raises unless einops imported). Compiled ones stay absent."""
    tried = folder / _NO_PURE_WHEEL
    failed = set(tried.read_text().split()) if tried.is_file() else set()
    for module in sorted(guarded_imports(repo) - failed):
        if importlib.util.find_spec(module) is not None or (folder / module).exists() or (folder / f"{module}.py").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                                 "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
                                 "--target", str(folder), _requirement(module)[1]], capture_output=True, text=True)
        if result.returncode != 0:
            failed.add(module)
            tried.write_text("\n".join(sorted(failed)))
