"""archread's Triton kernels: one op a file, each a launcher over a @triton.jit kernel."""

from ._checks import KernelLimitError
from .activation import ACTS, activation
from .attention import attention
from .norm import layer_norm, rms_norm
from .rope import apply_rope
from .softcap import softcap

__all__ = ["ACTS", "KernelLimitError", "activation", "apply_rope", "attention", "layer_norm", "rms_norm", "softcap"]
