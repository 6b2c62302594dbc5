"""What every launcher checks before it launches: a clear error beats a silent wrong result."""

from __future__ import annotations

import torch
import triton

from archread.errors import ArchreadError

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
MAX_ROW = 65536  # one program holds a whole row in registers; wider rows would spill or fail to compile


class KernelLimitError(ArchreadError):
    """An input outside what a kernel supports, naming the limit."""


def check_dtype(op: str, *tensors: torch.Tensor) -> None:
    for t in tensors:
        if t is not None and t.dtype not in DTYPES:
            raise KernelLimitError(f"{op}: dtype {t.dtype} is not supported (float32, bfloat16, float16 only)")


def check_row(op: str, width: int, limit: int = MAX_ROW) -> int:
    """The power-of-two block that holds one row, or an error when the row is wider than the limit."""
    if width > limit:
        raise KernelLimitError(f"{op}: last dimension {width} exceeds the one-block limit of {limit}")
    return triton.next_power_of_2(width)


def rows(x: torch.Tensor) -> torch.Tensor:
    """x as a 2-D tensor of rows with a unit stride in the last dimension (copies only when it must)."""
    x2 = x.reshape(-1, x.shape[-1])
    return x2 if x2.stride(-1) == 1 else x2.contiguous()
