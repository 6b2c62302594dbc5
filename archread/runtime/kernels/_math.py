"""Device math that Triton lacks or that its interpreter cannot run (libdevice calls)."""

import os

import triton
import triton.language as tl
from triton.language.extra import libdevice

# libdevice's tanh on a GPU (what torch.compile emits); the interpreter cannot call libdevice
HW_TANH = os.environ.get("TRITON_INTERPRET") != "1"


@triton.jit
def tanh(t):
    """tanh in float32: (1 − e^{−2|t|})/(1 + e^{−2|t|}), and its Taylor series near 0 where that form cancels."""
    a = tl.abs(t)
    e = tl.exp(-2.0 * a)
    far = tl.fdiv(1.0 - e, 1.0 + e)  # the fast division: 2 ulp, and no longer the bottleneck of softcap
    a2 = a * a
    near = a * (1.0 - a2 * (0.3333333333333333 - a2 * (0.13333333333333333 - a2 * 0.05396825396825397)))
    r = tl.where(a < 0.2, near, far)
    return tl.where(t < 0, -r, r)


@triton.jit
def tanh_of(t, HW: tl.constexpr):
    if HW:
        return libdevice.tanh(t)
    else:
        return tanh(t)
