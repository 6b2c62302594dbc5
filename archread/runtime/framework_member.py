"""An original that fails for want of a transformers member: a base-class method or module name the installed
release removed (`PreTrainedModel.get_head_mask` in 5.x). Older releases may still have it, so the failure is
one a release change can cure, unlike a fault of the code or of the configuration."""

from __future__ import annotations

import re
import types

from archread.errors import ArchreadError

_TORCH_MESSAGE = re.compile(r"'(\w+)' object has no attribute '(\w+)'")


class OriginalLacksMember(ArchreadError):
    """The original ran into a transformers member the installed release lacks."""

    def __init__(self, message: str, member: str):
        super().__init__(message)
        self.member = member


def _is_transformers(module_name: str | None) -> bool:
    return (module_name or "").split(".")[0] == "transformers"


def missing_framework_member(exc: BaseException, model) -> str | None:
    """`Owner.name` where `exc` is an AttributeError on a transformers module, or on an object of the model whose
    classes descend from a transformers class (the member would have come from it); else None."""
    if not isinstance(exc, AttributeError):
        return None
    name, obj = getattr(exc, "name", None), getattr(exc, "obj", None)
    if name is None or obj is None:  # torch's Module.__getattr__ sets neither; its message names the class
        found = _TORCH_MESSAGE.fullmatch(str(exc))
        if found is None:
            return None
        name = found[2]
        obj = next((m for m in model.modules() if type(m).__name__ == found[1]), None)
        if obj is None:
            return None
    if isinstance(obj, types.ModuleType):
        return f"{obj.__name__}.{name}" if _is_transformers(obj.__name__) else None
    bases = [c for c in type(obj).__mro__ if _is_transformers(c.__module__)]
    return f"{bases[0].__name__}.{name}" if bases else None
