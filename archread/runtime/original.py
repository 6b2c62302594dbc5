"""The original implementation a reduction is checked against: transformers (the installed release), or a
remote-code repo's own modules imported as a package, with the model class and its configuration class.

Shared by verify, run, build and config_values; another release's original runs in a subprocess
(`release.py`, `original_runner.py`) that calls this same module under that release.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from archread.errors import ArchreadError, one_line
from archread.parsers.lender_tree import release_named
from archread.parsers.source import tree_of
from archread.runtime.own_faults import import_fault
from archread.runtime.packages import MissingPackage, PackageUnavailable, extension_built_at_import, missing_module
from archread.runtime.repo_alias import alias_repo, synthetic_package
from archread.runtime.repo_files import parsed_files
from archread.runtime.stand_ins import repo_import


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise ArchreadError(f"{path}: no config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArchreadError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchreadError(f"{path}: not a configuration (a JSON object)")
    return data


def transformers_module():
    try:
        import transformers
    except ImportError:
        raise ArchreadError("running the original needs transformers installed") from None
    return transformers


def installed_release() -> str | None:
    try:
        return importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        return None


def repo_folder(source) -> Path | None:
    """The repo folder of a file that belongs to no transformers tree: remote code (or a file of the user's own).
    Not resolved: an HF cache snapshot's files are links into its blobs folder."""
    if source.remote is not None:
        return source.remote.folder
    return None if tree_of(source.path) is not None else source.path.absolute().parent


def repo_config(folder: Path) -> dict:
    """The repo's config.json ({} where it has none)."""
    path = folder / "config.json"
    return read_json(path) if path.is_file() else {}


def repo_release(folder: Path) -> str | None:
    """The transformers release the repo's config.json was saved with (a development build's: the release)."""
    return release_named(repo_config(folder).get("transformers_version"))


def repo_package(folder: Path) -> str:
    """Import name of the repo folder as a package, so its relative imports (`from .configuration_x import …`)
    and sibling files resolve as they do under transformers' remote-code loader. A folder whose files import from
    the packages above it (`from ...utils.torch_utils import skip_init`) is a package inside those, as in its
    checkout: each level a package of its folder, none of their __init__ files run."""
    folder = folder.resolve()
    levels = _levels_above(folder)
    if levels:  # the whole package chain the folder sits in: its __init__ files import further up still
        while levels < len(folder.parents) - 1 and (folder.parents[levels] / "__init__.py").is_file():
            levels += 1
    top = folder.parents[levels - 1] if levels else folder
    name = "archread_repo_" + hashlib.sha256(str(top).encode()).hexdigest()[:12]
    synthetic_package(name, [str(top)])
    for part in folder.relative_to(top).parts:
        top, name = top / part, f"{name}.{part}"
        synthetic_package(name, [str(top)])
    return name


def _levels_above(folder: Path) -> int:
    """How many package levels above the folder its files' relative imports reach (`from ...x import` is two),
    as far as the folders above exist."""
    reach = max((node.level - 1 for _, tree in parsed_files(folder) for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level > 1), default=0)
    return min(reach, len(folder.parents) - 1)


def _import(name: str, what: str, folder: Path | None = None):
    try:
        return importlib.import_module(name)
    except ArchreadError:
        raise
    except Exception as exc:  # the module's own import errors: a missing package, an old transformers name
        module = missing_module(exc)
        if module is not None:
            raise MissingPackage(f"{what} does not import: it needs {module}, which is not installed", module,
                                 repo_import(exc, folder) if folder is not None else None) from None
        built = extension_built_at_import(exc)
        if built is not None:
            raise PackageUnavailable(f"{what} does not import: {built}") from None
        fault = import_fault(exc, folder) if folder is not None else None  # a test left at module level
        raise ArchreadError(f"{what} does not import: {fault or f'{type(exc).__name__}: {one_line(exc)}'}") from None


@dataclass
class Original:
    """The original's model class and configuration class, and where they came from."""

    model_class: type
    config_class: type | None  # None: transformers' own for the model type (AutoConfig.for_model)
    model_type: str
    origin: str  # "transformers 5.25.0" or "remote code, transformers 5.25.0"


def find_original(source, root: str) -> Original:
    """The class `root` of the source's original, in this process's transformers or the source's own repo."""
    transformers = transformers_module()
    version = transformers.__version__
    folder = repo_folder(source)
    if folder is None:  # the same file inside this process's transformers (models/deprecated/… too)
        inside = source.path.resolve().relative_to(tree_of(source.path).parent).with_suffix("")
        name = inside.name.replace("modular_", "modeling_", 1)  # a modular file's model is the one generated from it
        module = _import(".".join((*inside.parts[:-1], name)), f"transformers {version}'s {name}.py")
        cls = getattr(module, root, None)
        if cls is None:
            raise ArchreadError(f"transformers {version} has no {root} to compare with")
        origin = f"transformers {version}"
        config_class = getattr(cls, "config_class", None)
    else:
        package = repo_package(folder)
        alias_repo(folder.resolve(), package)  # `from glm_model.configuration_glm import …` in a repo named so
        if str(folder.resolve()) not in sys.path:  # a flat repo's absolute sibling imports (`from configuration_x import`)
            sys.path.append(str(folder.resolve()))
        remote = source.remote
        module = _import(f"{package}.{remote.modeling if remote else source.path.stem}", source.path.name, folder)
        cls = getattr(module, root, None)
        if not isinstance(cls, type):
            raise ArchreadError(f"{source.path}: defines no class {root}")
        origin = f"remote code, transformers {version}"
        config_class = _repo_config_class(folder, package, remote) or getattr(cls, "config_class", None)
    if not getattr(config_class, "model_type", "") and getattr(config_class, "__module__", "").startswith("transformers."):
        config_class = None  # the generic base class names no architecture; a repo's own class that names none is still its own
    model_type = getattr(config_class, "model_type", "") or (repo_config(folder).get("model_type") if folder else None)
    return Original(cls, config_class, model_type or source.model_type, origin)


def _repo_config_class(folder: Path, package: str, remote):
    """The repo's configuration class: the one the reading found (auto_map's AutoConfig, or the module the
    modeling file imports), else auto_map's by its name alone."""
    if remote is not None and remote.configuration and remote.config_class:
        module_name, class_name = remote.configuration, remote.config_class
    else:
        target = (repo_config(folder).get("auto_map") or {}).get("AutoConfig")
        target = target[0] if isinstance(target, list) and target else target
        if not isinstance(target, str) or "." not in target:
            return None
        module_name, _, class_name = target.rpartition(".")
        module_name = module_name.rpartition("--")[2]  # `org/repo--configuration_x`: a file of another repo
    if not (folder / f"{module_name}.py").is_file():
        raise ArchreadError(f"{folder / 'config.json'}: the configuration is {module_name}.py, which the repo lacks")
    cls = getattr(_import(f"{package}.{module_name}", f"{module_name}.py", folder), class_name, None)
    if cls is None:
        raise ArchreadError(f"{folder / module_name}.py: defines no {class_name}")
    return cls


def configuration(model_type: str, path: Path | None = None, config_class=None):
    """The configuration in path (a config.json) as the original's own class builds it (transformers' class for
    the model type where `config_class` is None), else that class's defaults — at full size."""
    transformers = transformers_module()
    data = read_json(path) if path is not None else None
    # the repo's own class reads any config.json it is handed (transformers' loader only warns of another
    # model_type: MiniMax-M1's class says "MiniMaxM1", its config.json "minimax_m1"); transformers' class must match
    own = config_class is not None and not config_class.__module__.startswith("transformers.")
    if data is not None and data.get("model_type") not in (None, model_type) and not own:
        raise ArchreadError(f"{path}: config is for {data['model_type']}, the modeling file is {model_type}")
    fields = {k: v for k, v in (data or {}).items() if k != "model_type"}
    try:
        if config_class is not None:
            return config_class() if data is None else config_class.from_dict(fields)
        if model_type not in transformers.models.auto.configuration_auto.CONFIG_MAPPING_NAMES:
            raise ArchreadError(f"transformers {transformers.__version__} has no configuration class for '{model_type}'")
        return transformers.AutoConfig.for_model(model_type, **fields)
    except ArchreadError:
        raise
    except Exception as exc:  # TypeError, ValueError, the hub's strict-dataclass validation errors
        where = f"{path}: the" if path is not None else "the"
        raise ArchreadError(f"{where} {model_type} configuration class rejects it ({one_line(exc)})") from None
