"""Run two models on the same tokens and compare them layer by layer."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from archread.errors import ArchreadError


@dataclass
class Error:
    name: str
    max_abs: float
    rel_l2: float

    def to_json(self) -> dict:
        return {"name": self.name, "max_abs": self.max_abs, "rel_l2": self.rel_l2}


def eager(cfg):
    """The configuration with the original's plain paths chosen: the eager attention and, in 5.x, the eager
    experts loop — the paths the reduced model reads (5.0's default experts kernel for PhiMoE disagrees
    with its own eager loop)."""
    cfg._attn_implementation = "eager"
    cfg._experts_implementation = "eager"
    return cfg


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for t in (_first_tensor(v) for v in value) if t is not None), None)
    for attr in ("logits", "last_hidden_state"):
        if isinstance(getattr(value, attr, None), torch.Tensor):
            return getattr(value, attr)
    return None


def watched(model: torch.nn.Module) -> list[str]:
    """The decoder layers (items of a ModuleList, `model.layers.3` or OPT's `model.decoder.layers.3`) and the
    modules beside those lists and at the top (embedding, final norm, head)."""
    lists = {name for name, mod in model.named_modules() if isinstance(mod, torch.nn.ModuleList) and name.count(".") <= 2}
    homes = {name.rpartition(".")[0] for name in lists}
    names = []
    for name, mod in model.named_modules():
        parent = name.rpartition(".")[0]
        if parent in lists:
            names.append(name)
        elif name and (parent in homes or "." not in name) and not isinstance(mod, torch.nn.ModuleList):
            if not any(isinstance(c, torch.nn.ModuleList) for c in mod.children()):
                names.append(name)
    return names


def run_with_taps(model: torch.nn.Module, tokens: torch.Tensor, names: list[str], mask: torch.Tensor | None = None):
    """Logits and {module name: output tensor}, in the order the modules first ran (`mask`: an attention_mask
    for a model whose forward takes one). A module called several
    times (a rotary embedding per layer type) gives all its outputs, flattened in an order of their own values:
    the order of the calls may follow a set's (hash-seeded) iteration, different in each process."""
    calls: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name in names:
        module = model.get_submodule(name)

        def hook(_module, _args, out, name=name):
            tensor = _first_tensor(out)
            if tensor is not None:
                if tensor.is_complex():  # rotary tables kept as complex numbers: compare both parts
                    tensor = torch.view_as_real(tensor)
                calls.setdefault(name, []).append(tensor.detach().float().cpu())

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = _first_tensor(model(tokens, attention_mask=mask) if mask is not None and takes_mask(model) else model(tokens))
    finally:
        for h in handles:
            h.remove()
    if logits is None:  # GLM's default `output_predict=False`: the configuration turns the head off
        raise ArchreadError("it returns no logits with this configuration (its output holds no tensor); the "
                            "checkpoint's config.json may switch the head on: pass --config")
    outputs = {name: found[0] if len(found) == 1 else torch.cat(
        [t.flatten() for t in sorted(found, key=lambda t: (t.numel(), t.double().sum().item()))]) for name, found in calls.items()}
    return logits.detach().float().cpu(), outputs


def run_original_with_taps(model: torch.nn.Module, tokens: torch.Tensor, names: list[str]):
    """run_with_taps, and the mask it took: None, or all ones where the model refuses the tokens alone but runs
    with a mask that hides nothing (CodeShell builds a (1, 1, q, k) causal mask, then demands (batch, 1, q, k)).
    Hiding nothing, that mask asks for the same computation; the reduced model is given it too. The first
    error stands where the mask does not help."""
    try:
        return (*run_with_taps(model, tokens, names), None)
    except Exception as exc:
        if not takes_mask(model):
            raise
        whole = torch.ones_like(tokens)
        try:
            return (*run_with_taps(model, tokens, names, whole), whole)
        except Exception:  # noqa: BLE001 - not the mask's doing: the first error says what is wrong
            raise exc from None


WHOLE_MASK = "the unpadded batch ran with an all-ones attention_mask: the original refuses it without one"


def padding_mask(tokens: torch.Tensor) -> torch.Tensor:
    """A padded batch over `tokens`: row 0 left-padded and row 1 right-padded by a quarter of the sequence
    (1 = a real token, 0 = padding), the other rows whole."""
    mask = torch.ones_like(tokens)
    pad = max(1, tokens.shape[1] // 4)
    mask[0, :pad] = 0
    if tokens.shape[0] > 1:
        mask[1, -pad:] = 0
    return mask


def takes_mask(model: torch.nn.Module) -> bool:
    return "attention_mask" in inspect.signature(model.forward).parameters


def real_token_logits(model: torch.nn.Module, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits of the padded batch's real tokens, (real tokens, vocab). A model whose forward takes no mask runs
    without one (its answer on the left-padded row then shows it ignores padding)."""
    with torch.no_grad():
        out = model(tokens, attention_mask=mask) if takes_mask(model) else model(tokens)
    return _first_tensor(out).detach().float().cpu()[mask.bool().cpu()]


def error(name: str, got: torch.Tensor, want: torch.Tensor) -> Error:
    if got.shape != want.shape:
        return Error(name, float("inf"), float("inf"))
    diff = (got - want).double()
    return Error(name, diff.abs().max().item(), (diff.norm() / want.double().norm().clamp_min(1e-30)).item())
