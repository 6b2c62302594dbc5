"""Turn reduced source into live modules. The code is the user's to trust (see verify --trust-code)."""

from __future__ import annotations

import types

import torch

from archread.errors import ArchreadError
from archread.parsers import Reduction


def load_module(reduction: Reduction) -> types.ModuleType:
    module = types.ModuleType(f"archread_reduced_{reduction.source.model_type}")
    module.__file__ = f"<reduced {reduction.source.path}>"
    try:
        exec(compile(reduction.code, module.__file__, "exec"), module.__dict__)
    except Exception as exc:  # the reduced code is ours: report which name it lacks
        raise ArchreadError(f"reduced {reduction.source.model_type} does not import: {type(exc).__name__}: {exc}") from None
    return module


def build_model(reduction: Reduction, config) -> torch.nn.Module:
    module = load_module(reduction)
    root = reduction.roots[0]
    try:
        model = getattr(module, root)(config)
    except Exception as exc:
        raise ArchreadError(f"reduced {root} cannot be built from this config: {type(exc).__name__}: {exc}") from None
    return model.eval()
