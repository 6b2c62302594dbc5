"""Turn reduced source into live modules. The code is the user's to trust (see verify --trust-code)."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import torch

from archread.errors import ArchreadError
from archread.parsers import Reduction, reduce_source
from archread.runtime import stand_ins
from archread.runtime.config_values import values_of
from archread.runtime.packages import MissingPackage, missing_module, with_packages


def load_module(reduction: Reduction, repo: Path | None = None) -> types.ModuleType:
    """The reduced module, live. For remote code (`repo`), a package its reading kept that is not installed is
    reported as MissingPackage (the caller brings it, or stands in for it as for the original)."""
    module = types.ModuleType(f"archread_reduced_{reduction.source.model_type}")
    module.__file__ = f"<reduced {reduction.source.path}>"
    before = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module  # a kept @dataclass looks its module up there while it is defined
    if repo is not None:
        stand_ins.register_code(module.__file__, reduction.code)
    try:
        exec(compile(reduction.code, module.__file__, "exec"), module.__dict__)
    except Exception as exc:  # the reduced code is ours: report which name it lacks
        what = f"reduced {reduction.source.model_type} does not import: {type(exc).__name__}: {exc}"
        absent = missing_module(exc) if repo is not None else None
        if absent is not None:
            raise MissingPackage(what, absent, stand_ins.repo_import(exc, repo, (module.__file__, reduction.code))) from None
        raise ArchreadError(what) from None
    finally:
        if before is None:
            del sys.modules[module.__name__]
        else:
            sys.modules[module.__name__] = before
    return module


MISSING = object()  # a key the configuration does not hold


def held_value(config, key: str):
    """The value of an assumed key (`rope_scaling`, `rope_parameters['rope_type']`) in a live configuration."""
    name, *keys = key.split("[")
    value = getattr(config, name, MISSING)
    for k in keys:
        value = value.get(ast.literal_eval(k.rstrip("]")), MISSING) if isinstance(value, dict) else MISSING
    return value


def for_config(reduction: Reduction, config) -> Reduction:
    """The reading that holds for this configuration: a reading folded for values (`# assumes …`) the
    configuration does not hold is read again for the configuration's own."""
    if all(held_value(config, k) == v for k, v in reduction.assumed.items()):
        return reduction
    return reduce_source(reduction.source, values_of(config))


def build_model(reduction: Reduction, config, repo: Path | None = None) -> torch.nn.Module:
    reduction = for_config(reduction, config)
    module = load_module(reduction, repo)
    root = reduction.roots[0]
    try:
        model = getattr(module, root)(config)
    except Exception as exc:
        raise ArchreadError(f"reduced {root} cannot be built from this config: {type(exc).__name__}: {exc}") from None
    return model.eval()


def reduced_model(reduction: Reduction, config, repo: Path | None) -> torch.nn.Module:
    """build_model for verify: remote code's reduced module gets the packages (or stand-ins) its original got."""
    if repo is None:
        return build_model(reduction, config)
    from archread.runtime.release import packages_here

    return with_packages(lambda: build_model(reduction, config, repo), packages_here(), repo)
