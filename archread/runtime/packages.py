"""Packages that remote code imports and neither this environment nor the release has (einops, requests, …):
brought from the registry into the folder the original runs with — the release's own, or one beside it for the
installed release — one wheel at a time, as the original's imports ask for them. A package with no wheel is
built from source (a compiler, often CUDA: flash-attn, mamba-ssm) and is named in one line instead."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

from archread.errors import ArchreadError

ATTEMPTS = 8  # packages brought for one original at most (each retry imports the repo afresh)
# import names whose distribution is named otherwise; the registry cannot be asked which distribution
# provides a module, so these few well-known ones are spelled out, the rest is the import name
_DISTRIBUTION = {"PIL": "pillow", "cv2": "opencv-python-headless", "yaml": "pyyaml", "sklearn": "scikit-learn",
                 "attr": "attrs", "google": "protobuf", "dateutil": "python-dateutil"}


class MissingPackage(ArchreadError):
    """The original imports a top-level module that nothing on the path provides."""

    def __init__(self, message: str, module: str):
        super().__init__(message)
        self.module = module


def missing_module(exc: BaseException) -> str | None:
    """The top-level module an import error says is absent, where nothing provides it (not a renamed submodule
    of a package that is there, nor one of the repo's own files)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or exc.name.startswith("archread_repo_"):
        return None
    top = exc.name.split(".")[0]
    return top if importlib.util.find_spec(top) is None else None


def bring(module: str, folder: Path) -> None:
    """Install the distribution of `module` (no dependencies: each comes when its own import asks) into folder."""
    distribution = _DISTRIBUTION.get(module, module.replace("_", "-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                             "--only-binary=:all:", "--target", str(folder), distribution], capture_output=True, text=True)
    if result.returncode == 0:
        _refuse_another_torch(distribution, folder)
        return
    last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
    if "no matching distribution" in last.lower():
        raise ArchreadError(f"the remote code imports {module}, and {distribution} has no wheel for this machine: "
                            "it builds from source (a compiler, often CUDA)")
    raise ArchreadError(f"the remote code imports {module}; installing {distribution} failed: {last}")


def _refuse_another_torch(distribution: str, folder: Path) -> None:
    """A wheel built against one torch release (torchvision pins `torch==X`) breaks every import of this one's:
    it is taken out again and named."""
    import importlib.metadata
    import re
    import shutil

    from packaging.requirements import Requirement

    wanted = re.sub(r"[-_.]+", "_", distribution).lower()
    for info in folder.glob("*.dist-info"):
        if re.sub(r"[-_.]+", "_", info.name.split("-")[0]).lower() != wanted or not (info / "METADATA").is_file():
            continue
        ours = importlib.metadata.version("torch").split("+")[0]
        needs = [Requirement(line.removeprefix("Requires-Dist:").strip()) for line in (info / "METADATA").read_text().splitlines()
                 if re.match(r"Requires-Dist:\s*torch\b(?![-_.\w])", line)]
        pins = [str(r.specifier) for r in needs if r.name == "torch" and r.specifier and not r.marker
                and not r.specifier.contains(ours, prereleases=True)]
        if pins:
            for line in (info / "RECORD").read_text().splitlines() if (info / "RECORD").is_file() else []:
                top = folder / line.split(",")[0].split("/")[0]
                if top.name in ("", "..", "bin"):  # scripts and paths outside: left alone
                    continue
                shutil.rmtree(top, ignore_errors=True) if top.is_dir() else top.unlink(missing_ok=True)
            shutil.rmtree(info, ignore_errors=True)
            raise ArchreadError(f"the remote code imports {distribution}, whose wheel needs torch {pins[0]} "
                                f"(this is torch {ours}): install a matching {distribution} to run it")


def with_packages(attempt, folder: Path):
    """attempt(), bringing each package it reports missing into folder (on sys.path) and trying again."""
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    brought = set()
    while True:
        try:
            return attempt()
        except MissingPackage as exc:
            if exc.module in brought or len(brought) >= ATTEMPTS:
                raise
            bring(exc.module, folder)
            brought.add(exc.module)
            importlib.invalidate_caches()


_NO_PURE_WHEEL = ".archread-no-pure-wheel"  # in the target folder: guarded imports tried once, without success


def guarded_imports(repo: Path) -> set[str]:
    """Top-level modules the repo's files import inside a `try:` (its own optional paths: `einops`, `flash_attn`)."""
    found = set()
    for path in repo.glob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for trial in (n for n in ast.walk(tree) if isinstance(n, ast.Try)):
            for node in (n for s in trial.body for n in ast.walk(s)):
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
        distribution = _DISTRIBUTION.get(module, module.replace("_", "-"))
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                                 "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
                                 "--target", str(folder), distribution], capture_output=True, text=True)
        if result.returncode != 0:
            failed.add(module)
            tried.write_text("\n".join(sorted(failed)))
