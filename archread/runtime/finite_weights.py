"""A second draw of random weights for an original whose own initialisation gives NaN or Inf.

A ternary quantiser rounds 0.02-scale weights to all zeros and then divides by their zero norm (QPhi's
QLinear): nothing about the reading can be judged on that. The matrices are drawn again at unit scale;
the report says so. Where that is not finite either, the verdict stays NO VERDICT."""

from __future__ import annotations

import torch

from archread.runtime.compare import _first_tensor

UNIT_SCALE = "random matrices at unit scale (the original's own initialisation gives NaN or Inf)"


def finite_or_unit_scale(model: torch.nn.Module, tokens: torch.Tensor) -> str | None:
    """None where the model's outputs on `tokens` are finite; else redraw its matrices (seed 0, std 1) in
    place and return the note for the report."""
    if _finite(model, tokens):
        return None
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and p.dim() >= 2:
                p.normal_(0.0, 1.0)
    return UNIT_SCALE


def _finite(model: torch.nn.Module, tokens: torch.Tensor) -> bool:
    try:
        with torch.no_grad():
            out = _first_tensor(model(tokens.to(next(model.parameters()).device)))
    except Exception:  # noqa: BLE001 - an original that does not run says why on the comparison's own run
        return True
    return out is None or bool(torch.isfinite(out).all())
