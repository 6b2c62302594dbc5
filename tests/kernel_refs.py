"""Plain-PyTorch references for the kernels, written as the models write them (the float32 reading)."""

import math

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps, offset=0.0, round_first=True, residual=None):
    if residual is not None:
        x = x + residual
    xf = x.float()
    normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    if round_first:
        normed = normed.to(x.dtype).float()
    return (normed * (w.float() + offset)).to(x.dtype)


def layer_norm(x, w, b, eps, offset=0.0, residual=None):
    if residual is not None:
        x = x + residual
    return F.layer_norm(x.float(), x.shape[-1:], w.float() + offset, None if b is None else b.float(), eps).to(x.dtype)


def rotate(x, interleaved):
    if interleaved:
        return torch.stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2)
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def apply_rope(q, k, cos, sin, interleaved=False):
    rot = cos.shape[-1]
    cos, sin = cos.unsqueeze(1).float(), sin.unsqueeze(1).float()

    def one(x):
        xr, rest = x[..., :rot].float(), x[..., rot:]
        return torch.cat(((xr * cos + rotate(xr, interleaved) * sin).to(x.dtype), rest), -1)

    return one(q), one(k)


ACTS = {"silu": F.silu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "relu": F.relu,
        "relu2": lambda x: F.relu(x).square()}


def activation(gate, up, act):
    y = ACTS[act](gate.float())
    return (y if up is None else y * up.float()).to(gate.dtype)


def softcap(x, cap):
    return (cap * torch.tanh(x.float() / cap)).to(x.dtype)


def attention(q, k, v, scale=None, window=None, cap=None):
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, 1).float(), v.repeat_interleave(group, 1).float()
    s = q.float() @ k.transpose(-1, -2) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if cap is not None:
        s = cap * torch.tanh(s / cap)
    i = torch.arange(q.shape[2])[:, None]
    j = torch.arange(q.shape[2])[None, :]
    keep = (j <= i) & ((i - j < window) if window else True)
    s = s.masked_fill(~keep.to(s.device), float("-inf"))
    return (s.softmax(-1) @ v).to(q.dtype)
