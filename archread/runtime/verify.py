"""archread verify: the reduced model against the original, on the same weights and tokens."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from archread.errors import ArchreadError, one_line
from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root
from archread.runtime.build import build_model
from archread.runtime.compare import Error, eager, error, run_with_taps, watched
from archread.runtime.config_values import config_values
from archread.runtime.stream import place
from archread.runtime.tiny import build_tiny, shrink, test_tokens
from archread.runtime.weights import load_into, load_weights

FP32_MAX_ABS, FP32_REL_L2 = 1e-5, 1e-6  # DESIGN.md: litgpt's bar
LOW_PRECISION_SLACK = 1.1  # reduced error ≤ 1.1 × the original's own low-precision error
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
    first_divergent: str | None = None
    match: bool = False

    def to_json(self) -> dict:
        return {
            "model": self.model, "reference": self.reference, "dtype": self.dtype, "device": self.device,
            "layers": [e.to_json() for e in self.layers],
            "logits": {**self.logits.to_json(), "top1_agree": self.top1_agree},
            "original_low_precision": [e.to_json() for e in self.baseline],
            "missing_keys": [], "unexpected_keys": [], "tied": self.tied,
            "kernels": self.kernels or [{"component": "*", "kernel": "torch"}], "first_divergent": self.first_divergent, "match": self.match,
        }

    def to_text(self) -> str:
        lines = [f"{self.model} vs {self.reference} ({self.dtype}, {self.device})"]
        own = {b.name: b for b in self.baseline}
        if own:
            lines.append(f"  {'':<32} {'reduced vs float32 original':<36} original {self.dtype} vs float32")
        for e in self.layers + [self.logits]:
            flag = "  <- first divergence" if e.name == self.first_divergent else ""
            base = f"  rel_l2 {own[e.name].rel_l2:.2e}" if e.name in own else ""
            lines.append(f"  {e.name:<32} max_abs {e.max_abs:.2e}  rel_l2 {e.rel_l2:.2e}{base}{flag}")
        lines.append(f"  top-1 agreement {self.top1_agree:.1%}")
        lines.append("MATCH" if self.match else f"MISMATCH at {self.first_divergent}")
        return "\n".join(lines)


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ArchreadError("verify needs transformers installed to run the original") from None
    return transformers


def _original_class(transformers, model_type: str, root: str):
    cls = getattr(transformers, root, None)
    if cls is None:
        try:
            cls = getattr(importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}"), root)
        except (ImportError, AttributeError):
            raise ArchreadError(f"the installed transformers has no {root} to compare with") from None
    return cls


def _config(transformers, model_type: str, config: Path | None, weights: Path | None, config_class=None):
    path = config or (weights / "config.json" if weights else None)
    if path is not None:
        if not path.is_file():
            raise ArchreadError(f"{path}: no config.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ArchreadError(f"{path}: not JSON ({exc})") from None
        if data.get("model_type") not in (None, model_type):
            raise ArchreadError(f"{path}: config is for {data['model_type']}, the modeling file is {model_type}")
        data.pop("model_type", None)
        cfg = transformers.AutoConfig.for_model(model_type, **data)
        return cfg if weights is not None else shrink(cfg)  # random weights: its choices, at a few dozen wide
    try:  # the class the root model is built from (AriaTextConfig, not the multimodal AriaConfig)
        default = config_class() if config_class is not None else transformers.AutoConfig.for_model(model_type)
    except ValueError:
        raise ArchreadError(f"the installed transformers has no configuration for '{model_type}'") from None
    try:
        return shrink(default)
    except Exception as exc:  # its class validates sizes together (Dory: input + recurrent + output layers)
        raise ArchreadError(f"the {type(default).__name__} class rejects archread's tiny configuration "
                            f"({type(exc).__name__}: {one_line(exc)}); pass --config with a small one") from None


def verify(ref, config: Path | None = None, weights: Path | None = None, device: str = "cpu",
           dtype: str = "float32", trust_code: bool = False, reduction=None) -> VerifyReport:
    if reduction is None:  # with a checkpoint's configuration, the reading checked is the one specialised to it
        source = resolve(ref)
        reduction = reduce_source(source, config_values(config, source) if config is not None else None)
    source = reduction.source
    root = transformers_root()
    inside = root is not None and source.path.resolve().is_relative_to(root.resolve())
    installed = importlib.metadata.version("transformers") if root is not None else None
    if not inside and source.release and source.release != installed and config is None and weights is None:
        return _other_release(reduction, source.release, device, dtype, trust_code)
    if not inside and not trust_code:
        raise ArchreadError(f"{source.path}: outside the installed transformers; pass --trust-code to run it")
    if device == "cuda" and not torch.cuda.is_available():
        raise ArchreadError("no CUDA GPU here; use --device cpu")
    transformers = _transformers()
    original_cls = _original_class(transformers, source.model_type, reduction.roots[0])
    config_class = getattr(original_cls, "config_class", None)
    if not getattr(config_class, "model_type", ""):  # the generic base class names no architecture
        config_class = None
    cfg = _config(transformers, source.model_type, config, weights, config_class)
    eager(cfg)
    torch.manual_seed(0)
    try:
        if weights is None:  # random weights: the original's own state dict, as its module tree names it
            original, cfg = build_tiny(original_cls, cfg)
            state = {k: v.clone() for k, v in original.state_dict().items()}
        else:
            original = original_cls.from_pretrained(weights, config=cfg, local_files_only=True).eval()
            state = load_weights(weights)
    except ArchreadError:
        raise
    except Exception as exc:
        raise ArchreadError(f"the original {original_cls.__name__} does not run with this config: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    reduced = build_model(reduction, cfg)
    tied = load_into(reduced, state)
    return compare_models(reduced, original, cfg, source.label, original_cls.__name__, device, dtype, tied)


def _other_release(reduction, version: str, device: str, dtype: str, trust_code: bool) -> VerifyReport:
    """A file of another transformers release: its original runs under that release, in a subprocess."""
    from archread.runtime.release import release_site
    from archread.runtime.verify_release import same_as_release, verify_release

    if device != "cpu" or dtype != "float32":
        raise ArchreadError(f"a transformers {version} original is compared in float32 on the CPU (--device cpu --dtype float32)")
    if not same_as_release(reduction.source, release_site(version)) and not trust_code:
        raise ArchreadError(f"{reduction.source.path}: differs from transformers {version}'s own file; pass --trust-code to run it")
    return verify_release(reduction, version)


def compare_models(reduced, original, cfg, label, reference, device, dtype, tied, tokens=None, stream=False,
                   before_reduced=None) -> VerifyReport:
    """Original in float32 (the truth), the original in `dtype` (its own error), then the reduced model.
    `before_reduced(model)` runs once the reduced model is on the device (kernel binding)."""
    if tokens is None:
        generator = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, cfg.vocab_size, (2, test_tokens()), generator=generator)
    tokens = tokens.to(device)
    names = [n for n in watched(reduced) if _has(original, n)]
    try:
        want_logits, want = run_with_taps(place(original, device, torch.float32, stream), tokens, names)
    except Exception as exc:
        raise ArchreadError(f"the original does not run: {type(exc).__name__}: {exc}") from None
    low = DTYPES[dtype]
    baseline = []
    if low is not torch.float32:
        base_logits, base = run_with_taps(place(original, device, low, stream), tokens, names)
        baseline = [error(n, base[n], want[n]) for n in names if n in base and n in want] + [error("logits", base_logits, want_logits)]
    place(reduced, device, low, stream)
    if before_reduced is not None:
        before_reduced(reduced)
    try:
        got_logits, got = run_with_taps(reduced, tokens, names)
    except Exception as exc:
        raise ArchreadError(f"the reduced model does not run: {type(exc).__name__}: {exc}") from None
    return judge(label, reference, dtype, device, names, (got_logits, got), (want_logits, want), baseline, tied)


def judge(label, reference, dtype, device, names, got, want, baseline, tied) -> VerifyReport:
    """The report from (logits, {module: output}) of the reduced model and of the original."""
    (got_logits, got), (want_logits, want) = got, want
    layers = [error(n, got[n], want[n]) for n in names if n in got and n in want]
    logits = error("logits", got_logits, want_logits)
    top1 = (got_logits.argmax(-1) == want_logits.argmax(-1)).float().mean().item()
    report = VerifyReport(label, reference, dtype, device, layers, logits, top1, baseline, tied)
    report.first_divergent = _first_divergent(layers + [logits], baseline)
    report.match = report.first_divergent is None
    return report


def _has(model, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False


def _first_divergent(errors: list[Error], baseline: list[Error]) -> str | None:
    if not baseline:
        for e in errors:
            if e.rel_l2 > FP32_REL_L2 or (e.name == "logits" and e.max_abs > FP32_MAX_ABS):
                return e.name
        return None
    allowed = {b.name: b for b in baseline}
    for e in errors:
        b = allowed.get(e.name)
        if b is not None and e.rel_l2 > LOW_PRECISION_SLACK * b.rel_l2 + 1e-7:
            return e.name
    return None
