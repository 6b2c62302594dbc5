"""An original that asks for CUDA on a machine without it, and the torch path its configuration can choose.

Remote code often keeps a CUDA-only kernel path beside its plain torch one and lets the checkpoint's config.json
choose (Moss's int8 checkpoint sets `wbits=8`: GPTQ triton kernels that allocate on `device='cuda'`; the
configuration class's default `wbits=32` is plain `nn.Linear`). Where the original fails for want of CUDA, the
fields config.json sets away from the configuration class's default, and that the model's code tests in a
condition, are set back to the default: the code's own torch path, which the report names.
"""

from __future__ import annotations

import ast
import traceback
from pathlib import Path

import torch

from archread.parsers.config_defaults import config_file, read_defaults
from archread.runtime.repo_files import parsed_files


def asks_for_cuda(exc: BaseException) -> bool:
    """The error is torch's own refusal to reach CUDA (its lazy init, no driver, no GPU) on a machine without it."""
    if torch.cuda.is_available():
        return False
    cuda = Path(torch.cuda.__file__).parent
    frames = traceback.extract_tb(exc.__traceback__)
    text = str(exc)
    return (any(Path(f.filename).parent == cuda for f in frames) or "not compiled with CUDA" in text or "NVIDIA driver" in text
            or kernel_only_name(exc) is not None)


def kernel_only_name(exc: BaseException) -> str | None:
    """Where a NameError names what the failing file defines only under an availability probe of an optional
    kernel (`if is_flash_attn_2_available(): … _flash_supports_window_size = …`): that, in words. The code path
    taken needs the kernel, which on this machine is absent."""
    if not isinstance(exc, NameError) or not getattr(exc, "name", None):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    try:
        tree = ast.parse(Path(frames[-1].filename).read_text(encoding="utf-8", errors="replace"))
    except (IndexError, OSError, SyntaxError):
        return None
    for node in tree.body:
        probe = next((c.func for c in ast.walk(node.test) if isinstance(c, ast.Call)), None) if isinstance(node, ast.If) else None
        probe = getattr(probe, "id", None) or getattr(probe, "attr", None)
        if probe and probe.startswith("is_") and probe.endswith("_available") and exc.name in _bound(node.body):
            return f"{exc.name}, which {Path(frames[-1].filename).name} defines only if {probe}()"
    return None


def _bound(body: list[ast.stmt]) -> set[str]:
    names = set()
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _tested_fields(folder: Path) -> set[str]:
    """Configuration fields the repo's model code reads in a condition (`if config.wbits in [4, 8]:`)."""
    found = set()
    for path, tree in parsed_files(folder):
        if path.stem.startswith(("configuration_", "tokenization_")):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.If, ast.IfExp, ast.While)):
                found |= {a.attr for a in ast.walk(node.test) if isinstance(a, ast.Attribute) and _is_config(a.value)}
    return found


def _is_config(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "config") or (isinstance(node, ast.Attribute) and node.attr == "config")


def torch_path_values(modeling: Path, fields: dict) -> dict:
    """{field: the configuration class's default} for each field config.json (`fields`) sets otherwise and the
    model's code tests: what takes the original off the path its checkpoint chose."""
    path = config_file(modeling)
    if path is None or path == modeling:
        return {}
    defaults = read_defaults(path)
    tested = _tested_fields(modeling.parent)
    return {k: defaults[k].value for k in sorted(tested) if k in fields and k in defaults
            and isinstance(defaults[k].value, (bool, int, float, str, type(None))) and fields[k] != defaults[k].value}


def described(values: dict, fields: dict) -> str:
    """`wbits=8 → 32`."""
    return ", ".join(f"{k}={fields[k]!r} → {v!r}" for k, v in values.items())
