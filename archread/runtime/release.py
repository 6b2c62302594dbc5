"""Another transformers release, for originals of another era: installed once with `pip install --target`
into a cache folder (transformers with the hub and tokenizers it pins; everything else — torch, numpy —
comes from this environment), and run in a subprocess that hands back tensors as safetensors."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers.cache import archread_cache
from archread.parsers.lender_tree import source_defines
from archread.runtime.packages import ATTEMPTS, PackageUnavailable, bring_guarded, bring_or_why, entries, take_out_new

KEEP = ("transformers", "huggingface_hub", "tokenizers")  # always the release's own
CANNOT_IMPORT = 3  # the runner's exit code when the release cannot import the original
MISSING_PACKAGE = 4  # … when the original imports a package nothing provides (its name in missing.txt)
NEEDS_CUDA = 5  # … when the original asks for CUDA, which this machine lacks
UNAVAILABLE = 6  # … when a package it imports cannot work here, whatever the release


class NeedsCuda(ArchreadError):
    """The original, built as its configuration says, asks for CUDA (a GPU-only kernel path)."""


class ReleaseUnavailable(ArchreadError):
    """The release installs but cannot import the original (remote code then runs under the installed release,
    and the report says so); a release that cannot be installed at all is an error of its own."""


def _ours(name: str) -> bool:
    """This environment has the module itself: not through a folder of archread's cache on sys.path (the packages
    brought for remote code), which a release's subprocess does not see."""
    cache = archread_cache().resolve()
    path = [p for p in sys.path if not Path(p or ".").resolve().is_relative_to(cache)]
    try:
        return importlib.machinery.PathFinder.find_spec(name, path) is not None
    except (ImportError, ValueError):
        return False


def releases_dir() -> Path:
    return archread_cache() / "releases"


def release_site(version: str) -> Path:
    """transformers==version with the hub and tokenizers it needs, in its own folder (installed once)."""
    site = releases_dir() / version
    if (site / "transformers" / "__init__.py").is_file():
        return site
    releases_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tf-{version}-", dir=releases_dir()))  # same disk: the rename is atomic
    error = _pip(tmp, f"transformers=={version}")
    if error is not None:  # a pin the registry cannot meet (5.25.0 wants a `kernels` it does not have): the
        # release itself, then only the hub and tokenizers it pins; the rest is this environment's
        error = _pip(tmp, "--no-deps", f"transformers=={version}")
        pins = _pins(tmp, version) if error is None else []
        error = error or (_pip(tmp, *pins) if pins else None)
    if error is not None:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArchreadError(f"cannot install transformers {version} to run its original: {error}")
    dropped = set()
    for entry in tmp.iterdir():  # what this environment already has (numpy, yaml…) stays ours
        name = entry.name.removesuffix(".py")
        if not entry.name.endswith((".dist-info", ".data")) and name not in KEEP and _ours(name):
            dropped.add(name.lower().replace("-", "_"))
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
    for entry in tmp.glob("*.dist-info"):
        if entry.name.split("-")[0].lower().replace("-", "_") in dropped:
            shutil.rmtree(entry, ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)
    tmp.rename(site)
    return site


_CANNOT_IMPORT_NAME = re.compile(r"cannot import name '(\w+)' from '(transformers[\w.]*)'")


def missing_name(message: str) -> tuple[str, str] | None:
    """(module, name) where an import error says a transformers module lacks a name (`top_k_top_p_filtering`
    from transformers.generation.utils, gone in 4.39)."""
    found = _CANNOT_IMPORT_NAME.search(message)
    return (found.group(2), found.group(1)) if found else None


def release_defines(version: str, module: str, name: str) -> bool:
    """Whether an installed release's source of `module` defines `name` (lender_tree.source_defines)."""
    site = releases_dir() / version
    parts = module.split(".")
    path = site.joinpath(*parts, "__init__.py") if site.joinpath(*parts).is_dir() else site.joinpath(*parts[:-1], f"{parts[-1]}.py")
    return source_defines(path, name)


def packages_here() -> Path:
    """The folder of the packages remote code needs under the installed release (beside the pip-installed ones)."""
    import importlib.metadata

    return releases_dir() / f"{importlib.metadata.version('transformers')}-packages"


def cached_releases(exclude: str | None = None, also: tuple[str, ...] = ()) -> list[str]:
    """The releases already installed in the cache and those of `also`, newest first."""
    def key(version: str):
        return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))
    found = [p.name for p in releases_dir().glob("*") if (p / "transformers" / "__init__.py").is_file()] if releases_dir().is_dir() else []
    return sorted({v for v in (*found, *also) if v != exclude}, key=key, reverse=True)


def _pip(target: Path, *requirements: str) -> str | None:
    """Install into target; the last line pip printed when it fails."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             "--target", str(target), *requirements], capture_output=True, text=True)
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["pip failed"])[-1]


def _pins(site: Path, version: str) -> list[str]:
    """The release's own requirements on the packages it always brings (`huggingface-hub<3.0,>=2.4.0`)."""
    metadata = site / f"transformers-{version}.dist-info" / "METADATA"
    wanted = {k.replace("_", "-") for k in KEEP} - {"transformers"}
    pins = []
    for line in metadata.read_text(encoding="utf-8").splitlines():
        if not line.startswith("Requires-Dist:") or "extra ==" in line:
            continue
        requirement = line.removeprefix("Requires-Dist:").split(";")[0].strip()
        if re.split(r"[\s<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-") in wanted:
            pins.append(requirement)
    return pins


def release_env(version: str) -> dict:
    """The environment of a subprocess that imports transformers==version first, and this archread."""
    site = release_site(version)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).resolve().parents[2])]),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}


def run_original(version: str, spec: dict, timeout: float = 600) -> Path:
    """Run the original that `spec` names ({"path": modeling file, "root": class, "config": config.json or None})
    under transformers==version on a tiny configuration in a subprocess; returns the folder it wrote:
    config.json, weights.safetensors (its state dict), taps.safetensors (tokens, logits, module outputs, the
    padded batch's real-token logits)."""
    out = Path(tempfile.mkdtemp(prefix="archread-original-"))
    (out / "spec.json").write_text(json.dumps(spec))
    env = release_env(version)
    root = spec["root"]
    before = entries(release_site(version))  # what a run that fails brought is taken out again
    if Path(spec["path"]).is_dir():  # remote code: what its guarded imports want, where pure Python has it
        bring_guarded(Path(spec["path"]), release_site(version))
    brought = set()
    while True:  # each package the original's imports ask for is brought into the release's folder, then again
        try:
            result = subprocess.run([sys.executable, "-m", "archread.runtime.original_runner", str(out / "spec.json"), str(out)],
                                    capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ArchreadError(f"the original {root} of transformers {version} did not finish in {timeout:.0f} s") from None
        missing, imported_by = _missing(out)
        if result.returncode != MISSING_PACKAGE or not missing or missing in brought or len(brought) >= ATTEMPTS:
            break
        (out / "missing.txt").unlink()
        brought.add(missing)
        why = bring_or_why(missing, release_site(version), imported_by if Path(spec["path"]).is_dir() else None)
        if not imported_by:  # transformers' own need (a release installed without its pins): kept whatever comes
            before = entries(release_site(version))
        if why is not None:  # no wheel runs here: the repo's unguarded import of it gets a stand-in
            spec = {**spec, "stand_ins": {**spec.get("stand_ins", {}), imported_by: why}}
            (out / "spec.json").write_text(json.dumps(spec))
    if result.returncode != 0:
        take_out_new(release_site(version), before)
        lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1].removeprefix("archread: ") if lines else "?"
        kind = {CANNOT_IMPORT: ReleaseUnavailable, NEEDS_CUDA: NeedsCuda, UNAVAILABLE: PackageUnavailable}.get(result.returncode, ArchreadError)
        raise kind(f"the original {root} under transformers {version} does not run: {last}")
    json.loads((out / "config.json").read_text())  # written last: its presence means the run completed
    return out


def _missing(out: Path) -> tuple[str | None, str | None]:
    """(the package the original's import missed, the one the repo's own import asked for) from missing.txt."""
    words = (out / "missing.txt").read_text().split() if (out / "missing.txt").is_file() else []
    return (words[0] if words else None), (words[1] if len(words) > 1 else None)
