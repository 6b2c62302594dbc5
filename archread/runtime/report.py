"""The verdict: errors per layer and of the logits, judged against the numerics of DESIGN.md.

A verdict never lies: a NaN or Inf on either side is never a match, the top-1 choices take part, the padded
batch is judged like the unpadded one, and the report states the setup it was reached under."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from archread.runtime.compare import Error, error
from archread.runtime.config_values import values_of

FP32_MAX_ABS, FP32_REL_L2 = 1e-5, 1e-6  # DESIGN.md: litgpt's bar
LOW_PRECISION_SLACK = 1.1  # reduced error ≤ 1.1 × the original's own low-precision error
PADDED = "logits (padded batch)"


@dataclass
class VerifyReport:
    model: str
    reference: str
    dtype: str
    device: str
    layers: list[Error]
    logits: Error
    top1_agree: float
    baseline: list[Error] = field(default_factory=list)  # the original in dtype vs float32 (low precision only)
    tied: list[str] = field(default_factory=list)
    kernels: list[dict] = field(default_factory=list)  # which component ran on which kernel (run only)
    padded: Error | None = None  # real tokens of a left- and a right-padded row
    setup: dict = field(default_factory=dict)  # configuration values, sequence, seed, tolerance, padding
    first_divergent: str | None = None
    reason: str | None = None  # why it is not a match, in words
    match: bool = False

    @property
    def verdict(self) -> str:
        """MATCH, MISMATCH, or NO VERDICT where the original itself gives NaN or Inf: nothing to compare with."""
        if self.match:
            return "MATCH"
        return "NO VERDICT" if self.reason == ORIGINAL_NOT_FINITE else "MISMATCH"

    def to_json(self) -> dict:
        return {
            "model": self.model, "reference": self.reference, "dtype": self.dtype, "device": self.device,
            "setup": self.setup,
            "layers": [e.to_json() for e in self.layers],
            "logits": {**self.logits.to_json(), "top1_agree": self.top1_agree},
            "padded": self.padded.to_json() if self.padded else None,
            "original_low_precision": [e.to_json() for e in self.baseline],
            "missing_keys": [], "unexpected_keys": [], "tied": self.tied,
            "kernels": self.kernels or [{"component": "*", "kernel": "torch"}],
            "first_divergent": self.first_divergent, "reason": self.reason, "match": self.match,
            "verdict": self.verdict,
        }

    def to_text(self) -> str:
        lines = [f"{self.model} vs {self.reference} ({self.dtype}, {self.device})"]
        if self.setup:
            lines.append("  " + setup_line(self.setup))
        own = {b.name: b for b in self.baseline}
        if own:
            lines.append(f"  {'':<32} {'reduced vs float32 original':<36} original {self.dtype} vs float32")
        for e in self.layers + [self.logits] + ([self.padded] if self.padded else []):
            flag = "  <- first divergence" if e.name == self.first_divergent else ""
            base = f"  rel_l2 {own[e.name].rel_l2:.2e}" if e.name in own else ""
            lines.append(f"  {e.name:<32} max_abs {e.max_abs:.2e}  rel_l2 {e.rel_l2:.2e}{base}{flag}")
        lines.append(f"  top-1 agreement {self.top1_agree:.1%}")
        lines.append("MATCH" if self.match else f"{self.verdict}: {self.reason}")
        return "\n".join(lines)


def setup_line(setup: dict) -> str:
    sizes = setup.get("config", {})
    shown = ", ".join(f"{k}={sizes[k]}" for k in _SHOWN if k in sizes)
    tol = setup.get("tolerance", {})
    notes = "".join(f"; {setup[k]}" for k in ("mask", "read_with", "weights") if setup.get(k))
    return (f"setup: batch {setup.get('batch')} × {setup.get('seq_len')} tokens, seed {setup.get('seed')}, "
            f"{tol.get('rule', '')}; {setup.get('padding', 'no padded batch')}" + (f"; {shown}" if shown else "") + notes
            + "".join(f"\n  stand-in: {name} ({s['why']}); never called while computing"
                      + (f"; building called {', '.join(s['built_with'][:4])}" if s["built_with"] else "")
                      for name, s in setup.get("stand_ins", {}).items()))


_SHOWN = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
          "intermediate_size", "vocab_size", "sliding_window", "num_local_experts", "num_experts")


def tolerance(baseline: list[Error]) -> dict:
    if not baseline:
        return {"rule": f"float32 bar: rel_l2 ≤ {FP32_REL_L2:g} per layer, logits max_abs ≤ {FP32_MAX_ABS:g}",
                "max_abs": FP32_MAX_ABS, "rel_l2": FP32_REL_L2}
    return {"rule": f"low precision: error ≤ {LOW_PRECISION_SLACK}× the original's own", "slack": LOW_PRECISION_SLACK}


def has(model, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False


def judge(label, reference, dtype, device, names, got, want, baseline, tied, padded=None, setup=None) -> VerifyReport:
    """The report from (logits, {module: output}) of the reduced model and of the original. `padded`:
    (reduced, original[, original in dtype]) logits of the padded batch's real tokens, or a note why none."""
    (got_logits, got), (want_logits, want) = got, want
    layers = [error(n, got[n], want[n]) for n in names if n in got and n in want]
    logits = error("logits", got_logits, want_logits)
    top1 = (got_logits.argmax(-1) == want_logits.argmax(-1)).float().mean().item() if got_logits.shape == want_logits.shape else 0.0
    baseline = list(baseline)
    report = VerifyReport(label, reference, dtype, device, layers, logits, top1, baseline, tied, setup=dict(setup or {}))
    report.setup.setdefault("tolerance", tolerance(baseline))
    if isinstance(padded, tuple):
        report.padded = error(PADDED, padded[0], padded[1])
        if len(padded) > 2 and padded[2] is not None:
            baseline.append(error(PADDED, padded[2], padded[1]))
    elif isinstance(padded, str):
        report.setup["padding"] = padded
    errors = layers + [logits] + ([report.padded] if report.padded else [])
    report.first_divergent, report.reason = _verdict(errors, baseline, (got_logits, want_logits), (got, want))
    report.match = report.first_divergent is None
    return report


ORIGINAL_NOT_FINITE = "the original's outputs hold NaN or Inf with these weights: no verdict is possible"


def _finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _verdict(errors: list[Error], baseline: list[Error], logits, taps) -> tuple[str | None, str | None]:
    """(the first component that diverges, why) — or (None, None) for a match."""
    got_logits, want_logits = logits
    if not _finite([want_logits, *taps[1].values()]):
        return "logits", ORIGINAL_NOT_FINITE
    if not _finite([got_logits]):
        return "logits", "the reduced model's logits hold NaN or Inf"
    for e in errors:
        if not (math.isfinite(e.max_abs) and math.isfinite(e.rel_l2)):
            return e.name, f"{e.name}: not comparable (shapes differ, or NaN/Inf)"
    allowed = {b.name: b for b in baseline}
    for e in errors:
        if not baseline:
            if not e.rel_l2 <= FP32_REL_L2 or (e.name in ("logits", PADDED) and not e.max_abs <= FP32_MAX_ABS):
                return e.name, f"{e.name} differs beyond the float32 bar (rel_l2 {e.rel_l2:.2e}, max_abs {e.max_abs:.2e})"
        else:
            b = allowed.get(e.name)
            if b is not None and not e.rel_l2 <= LOW_PRECISION_SLACK * b.rel_l2 + 1e-7:
                return e.name, (f"{e.name}: rel_l2 {e.rel_l2:.2e} above {LOW_PRECISION_SLACK}× the original's own "
                                f"{b.rel_l2:.2e}")
    margin = 2 * (FP32_MAX_ABS if not baseline else max((b.max_abs for b in baseline if b.name == "logits"), default=0.0))
    flips = decisive_flips(got_logits, want_logits, margin)
    if flips:
        return "logits", f"top-1 choice differs at {flips} position(s) where the original's choice leads by more than {margin:.1e}"
    return None, None


def decisive_flips(got: torch.Tensor, want: torch.Tensor, margin: float) -> int:
    """Positions where the reduced model's top-1 token is not the original's and the original prefers its own by
    more than `margin` (a near tie may flip within the tolerance)."""
    mine, theirs = got.argmax(-1), want.argmax(-1)
    lead = want.gather(-1, theirs[..., None]) - want.gather(-1, mine[..., None])
    return int(((mine != theirs) & (lead[..., 0] > margin)).sum())


def setup_of(cfg, tokens, mask) -> dict:
    """What the verdict was reached under: the configuration's values, the tokens, the seed, the padding."""
    setup = {"config": values_of(cfg), "seq_len": int(tokens.shape[1]), "batch": int(tokens.shape[0]), "seed": 0}
    if mask is not None:
        pad = int((mask[0] == 0).sum())
        setup["padding"] = f"padded batch: row 0 left-padded and row 1 right-padded by {pad} tokens"
    return setup
