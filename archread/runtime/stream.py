"""Place a model on the device whole, or stream it: one decoder layer's weights on the device at a time.

Streaming keeps every ModuleList child (the decoder layers) on the CPU and moves each to the device just
before it runs and back just after, so a checkpoint larger than the GPU can still be checked layer by layer
on one GPU. Everything else (embedding, final norm, head, rotary buffers) stays on the device.
"""

from __future__ import annotations

import torch


def place(model: torch.nn.Module, device: str, dtype: torch.dtype, stream: bool = False) -> torch.nn.Module:
    model.to(dtype=dtype)
    if not stream:
        return model.to(device)
    layers = [child for mod in model.modules() if isinstance(mod, torch.nn.ModuleList) for child in mod]
    inside = {id(p) for layer in layers for p in layer.parameters()} | {id(b) for layer in layers for b in layer.buffers()}
    for mod in model.modules():  # move what is not in a layer, tensor by tensor
        for name, param in list(mod.named_parameters(recurse=False)):
            if id(param) not in inside:
                param.data = param.data.to(device)
        for name, buf in list(mod.named_buffers(recurse=False)):
            if id(buf) not in inside:
                mod._buffers[name] = buf.to(device)
    if getattr(model, "_archread_streamed", False):
        return model
    for layer in layers:
        layer.register_forward_pre_hook(lambda mod, args: mod.to(device) and None)
        layer.register_forward_hook(lambda mod, args, out: mod.to("cpu") and None)
    model._archread_streamed = True
    return model
