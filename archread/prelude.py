"""The small, stable runtime a reduced module imports besides torch and math.

It stands in for the transformers helpers the math still calls: activations by name, RoPE
frequency initialisers, and the causal (sliding-window, chunked) attention mask of one
unpadded sequence. Each is written from the published formulas, not copied.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from archread.prelude_einops import rearrange, repeat
from archread.prelude_masks import (  # noqa: F401 (re-exported: reduced modules import them from here)
    _prepare_4d_attention_mask,
    create_bidirectional_mask,
    create_bidirectional_sliding_window_mask,
    create_causal_mask,
    create_causal_mask_window_inclusive,
    create_causal_mask_with_padding,
    create_chunked_causal_mask,
    create_padding_mask,
    create_recurrent_attention_mask,
    create_sliding_window_causal_mask,
    maybe_autocast,
)

__all__ = [
    "Module", "ACT2FN", "ACT2CLS", "get_activation", "ROPE_INIT_FUNCTIONS", "yarn_apply_mscale", "Conv1D",
    "create_causal_mask", "create_sliding_window_causal_mask", "create_chunked_causal_mask",
    "create_causal_mask_window_inclusive", "create_causal_mask_with_padding",
    "create_padding_mask", "_prepare_4d_attention_mask", "create_recurrent_attention_mask",
    "create_bidirectional_mask", "create_bidirectional_sliding_window_mask", "maybe_autocast", "init",
    "KVSharingDict", "BlockMask", "custom_extension", "rearrange", "repeat", "gelu", "gelu_new", "gelu_fast", "quick_gelu", "silu", "mish",
]
# third-party functions the prelude has its own of: a reduced module imports these from here instead
STANDS_IN = {"einops": ["rearrange", "repeat"]}


# -- the base of a reduced module's classes --------------------------------------------------


class Module(nn.Module):
    """nn.Module, set up before the subclass's `__init__` runs: a reduced class needs no `super().__init__()`.
    (A second set-up, from a `super().__init__()` left in, finds nothing registered yet to reset.)"""

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        nn.Module.__init__(self)
        return self

    def __getattr__(self, name):
        # PreTrainedModel's `dtype` and `device` (its first floating parameter's), which the math reads
        # (4.4x's `torch.finfo(self.dtype).min` mask); an attribute a class sets itself is found first
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name not in ("dtype", "device"):
                raise
        first = next((p for p in self.parameters() if p.is_floating_point()), None)
        if first is None:
            return torch.get_default_dtype() if name == "dtype" else torch.device("cpu")
        return getattr(first, name)


# -- activations --------------------------------------------------------------------------


class GELUTanh(nn.Module):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))"""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class PytorchGELUTanh(nn.Module):
    def forward(self, x):
        return nn.functional.gelu(x, approximate="tanh")


class FastGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ReLUSquared(nn.Module):
    def forward(self, x):
        return torch.square(nn.functional.relu(x))


class SqrtSoftplus(nn.Module):
    def forward(self, x):
        return nn.functional.softplus(x).sqrt()


class ClippedGELU(nn.Module):
    def __init__(self, low: float = -10.0, high: float = 10.0):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x):
        return torch.clip(nn.functional.gelu(x), self.low, self.high)


class Identity(nn.Module):
    def forward(self, x):
        return x


class XIELU(nn.Module):
    """xIELU with the default initial alphas; checkpoints carry the trained ones."""

    def __init__(self, alpha_p_init=0.8, alpha_n_init=0.8, beta=0.5, eps=-1e-6, dtype=torch.bfloat16, **_):
        super().__init__()
        self.alpha_p = nn.Parameter(torch.log(torch.expm1(torch.tensor(alpha_p_init, dtype=dtype))).unsqueeze(0))
        self.alpha_n = nn.Parameter(torch.log(torch.expm1(torch.tensor(alpha_n_init - beta, dtype=dtype))).unsqueeze(0))
        self.register_buffer("beta", torch.tensor(beta, dtype=dtype))
        self.register_buffer("eps", torch.tensor(eps, dtype=dtype))

    def forward(self, x):
        alpha_p = nn.functional.softplus(self.alpha_p)
        alpha_n = self.beta + nn.functional.softplus(self.alpha_n)
        positive = alpha_p * x * x + self.beta * x
        negative = (torch.expm1(torch.min(x, self.eps)) - x) * alpha_n + self.beta * x
        return torch.where(x > 0, positive, negative)


ACT2CLS = {
    "gelu": nn.GELU, "gelu_10": ClippedGELU, "gelu_fast": FastGELU, "gelu_new": GELUTanh,
    "gelu_python": nn.GELU, "gelu_pytorch_tanh": PytorchGELUTanh, "gelu_accurate": GELUTanh,
    "gelu_tanh": PytorchGELUTanh, "quick_gelu": QuickGELU, "leaky_relu": nn.LeakyReLU,
    "linear": Identity, "identity": Identity, "mish": nn.Mish, "relu": nn.ReLU, "relu2": ReLUSquared,
    "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "silu": nn.SiLU, "swish": nn.SiLU, "tanh": nn.Tanh,
    "prelu": nn.PReLU, "xielu": XIELU, "sqrtsoftplus": SqrtSoftplus, "softplus": nn.Softplus,
}


class _Instantiate(dict):
    """ACT2FN['silu'] gives a fresh module, as the original mapping does."""

    def __getitem__(self, key):
        if key not in self:
            raise KeyError(f"activation '{key}' is not in archread's prelude")
        return dict.__getitem__(self, key)()


ACT2FN = _Instantiate(ACT2CLS)


def get_activation(name: str) -> nn.Module:
    return ACT2FN[name]


# transformers.activations' module-level instances (old remote code imports `gelu` itself)
gelu, gelu_new, gelu_fast, quick_gelu, silu, mish = (ACT2FN[k] for k in ("gelu", "gelu_new", "gelu_fast", "quick_gelu", "silu", "mish"))


# -- rotary frequencies --------------------------------------------------------------------


def _rope_settings(config, kwargs):
    """(base, dim, parameters) from an old-style config (rope_theta, rope_scaling) or a new one (rope_parameters)."""
    params = dict(getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
    if isinstance(params.get("full_attention"), dict):  # per-layer-type parameters: the caller picks
        params = params[kwargs.get("layer_type") or "full_attention"]
    base = kwargs.get("base") or params.get("rope_theta") or getattr(config, "rope_theta", 10000.0)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    fraction = params.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0))
    dim = kwargs.get("dim") or int(head_dim * fraction)
    return float(base), dim, params


def _inverse_frequencies(base: float, dim: int, device=None) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim))


def _default(config=None, device=None, seq_len=None, **kwargs):
    base, dim, _ = _rope_settings(config, kwargs)
    return _inverse_frequencies(base, dim, device), 1.0


def _linear(config=None, device=None, seq_len=None, **kwargs):
    base, dim, params = _rope_settings(config, kwargs)
    return _inverse_frequencies(base, dim, device) / params.get("factor", kwargs.get("factor", 1.0)), 1.0


def _llama3(config=None, device=None, seq_len=None, **kwargs):
    """Llama 3.1: long wavelengths divided by `factor`, short ones kept, a smooth ramp between."""
    base, dim, p = _rope_settings(config, kwargs)
    inv_freq = _inverse_frequencies(base, dim, device)
    factor, low, high, old = p["factor"], p["low_freq_factor"], p["high_freq_factor"], p["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old / high) * ~(wavelen > old / low)
    return torch.where(medium, blended, scaled), 1.0


def _mscale(scale: float, m: float = 1.0) -> float:
    """YaRN's magnitude correction for a context stretched `scale` times."""
    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0


def yarn_apply_mscale(rope_parameters, scaling):
    """MLA attention scale under YaRN (5.25's DeepSeek family): the softmax scale also takes mscale², with
    `mscale_all_dim`, when the RoPE is not the default one."""
    if rope_parameters.get("rope_type", "default") == "default" or not rope_parameters.get("mscale_all_dim"):
        return scaling
    return scaling * _mscale(rope_parameters["factor"], rope_parameters["mscale_all_dim"]) ** 2


def _yarn(config=None, device=None, seq_len=None, **kwargs):
    """YaRN (Peng et al. 2023): interpolate low frequencies, keep high ones, ramp between; scale attention."""
    base, dim, p = _rope_settings(config, kwargs)
    factor = p["factor"]
    old = p.get("original_max_position_embeddings") or config.max_position_embeddings
    if p.get("mscale") and p.get("mscale_all_dim"):
        attention = _mscale(factor, p["mscale"]) / _mscale(factor, p["mscale_all_dim"])
    else:
        attention = p.get("attention_factor") or _mscale(factor)
    beta_fast, beta_slow = p.get("beta_fast") or 32, p.get("beta_slow") or 1

    def correction(rotations):
        return (dim * math.log(old / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction(beta_fast), correction(beta_slow)
    if p.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32, device=device) - low) / (high - low), 0, 1)
    pos = base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim)
    extrapolate = 1 - ramp
    inv_freq = (1.0 / (factor * pos)) * (1 - extrapolate) + (1.0 / pos) * extrapolate
    return inv_freq, attention


def _proportional(config=None, device=None, seq_len=None, **kwargs):
    """The first `partial_rotary_factor` of each head's frequency pairs rotate, the rest get frequency 0 (they
    pass through), so the encoding always spans head_dim; divided by `factor`."""
    base, _, p = _rope_settings(config, kwargs)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    angles = int(p.get("partial_rotary_factor", 1.0) * head_dim // 2)
    rotated = 1.0 / (base ** (torch.arange(0, 2 * angles, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / head_dim))
    inv_freq = torch.cat((rotated, torch.zeros(head_dim // 2 - angles, device=device)))
    return inv_freq / p.get("factor", 1.0), 1.0


def _longrope(config=None, device=None, seq_len=None, **kwargs):
    """LongRoPE (Phi-3): each frequency divided by its own factor, the short list within the pretrained context
    and the long one beyond it; attention scaled by sqrt(1 + log(stretch) / log(pretrained context))."""
    base, dim, p = _rope_settings(config, kwargs)
    old = p.get("original_max_position_embeddings") or getattr(config, "original_max_position_embeddings", None)
    factor = p.get("factor") or (config.max_position_embeddings / old if old else 1.0)  # 5.x: the given factor first
    old = old or config.max_position_embeddings
    attention = p.get("attention_factor")
    if attention is None:
        attention = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(old))
    chosen = p["long_factor"] if seq_len and seq_len > old else p["short_factor"]
    exponents = torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim
    return 1.0 / (torch.tensor(chosen, dtype=torch.float32, device=device) * base**exponents), attention


ROPE_INIT_FUNCTIONS = {"default": _default, "linear": _linear, "dynamic": _default, "llama3": _llama3, "yarn": _yarn,
                       "proportional": _proportional, "longrope": _longrope}


class BlockMask:
    """FlexAttention's block-sparse mask type. The reduced model never builds one, so a model's
    `isinstance(mask, BlockMask)` checks read False, as they do on the eager path."""


class KVSharingDict(dict):
    """Keys and values one layer stores for later layers to reuse (Gemma 3n/4): part of the math, not a cache."""

    def __init__(self, shared=None):
        super().__init__(shared or {})

    def to(self, device, non_blocking: bool = False) -> "KVSharingDict":
        for key in list(self):
            self[key] = tuple(v.to(device, non_blocking=non_blocking) for v in self[key])
        return self


class _Init:
    """transformers' in-place initialisers that some modules call in __init__ (Mamba's A_log, D), without grad."""

    @staticmethod
    def copy_(tensor: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return tensor.copy_(other)

    def __getattr__(self, name: str):
        return getattr(torch.nn.init, name)


init = _Init()


class _CustomExtension:
    """Stands in for a C++ extension the original compiles at import: any use says which one the math needs."""

    def __init__(self, name, sources):
        self._what = f"the custom C++ extension {name}" + (f" (built from {', '.join(sources)})" if sources else "")

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # copy, pickle and inspect probe these
            raise AttributeError(attr)
        raise RuntimeError(f"{self._what} computes {attr}; archread does not build it, so this path cannot run")


def custom_extension(name, sources=()) -> _CustomExtension:
    return _CustomExtension(name, list(sources))


# -- layers the framework defines and the math uses -------------------------------------------------


class Conv1D(nn.Module):
    """GPT-2's transposed linear layer: weight is (in, out)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        out = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return out.view(x.size()[:-1] + (self.nf,))
