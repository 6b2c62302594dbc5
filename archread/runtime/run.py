"""archread run: a real checkpoint through the reduced model, on archread's kernels, against the original."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from archread.errors import ArchreadError
from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root
from archread.runtime.bind import bind
from archread.runtime.build import build_model
from archread.runtime.compare import eager
from archread.runtime.original import find_original, transformers_module
from archread.runtime.reading_values import on_runnable_values, on_torch_path
from archread.runtime.report import VerifyReport
from archread.runtime.test_input import candidate_inputs, first_that_runs, looked_up
from archread.runtime.tp import launch, shard
from archread.runtime.verify import DTYPES, compare_models
from archread.runtime.verify_stream import verify_streamed
from archread.runtime.weights import checkpoint_folder, load_into, load_weights


@dataclass
class RunReport:
    checkpoint: str
    modeling: str
    verify: VerifyReport
    generation: dict = field(default_factory=dict)
    bench: dict | None = None
    parallel: dict | None = None  # --tp: ranks, backend, what was sharded and what stayed whole
    streamed: dict | None = None  # --stream: bytes read, seconds, GB/s, layers, passes, peak device memory
    logits: torch.Tensor | None = None  # the reduced model's logits, kept only when asked (tests)

    def to_json(self) -> dict:
        return {"checkpoint": self.checkpoint, "modeling": self.modeling, **self.verify.to_json(),
                "generation": self.generation, "bench": self.bench, "parallel": self.parallel,
                "streamed": self.streamed}

    def to_text(self) -> str:
        lines = [f"checkpoint {self.checkpoint}", f"modeling   {self.modeling}", "kernels:"]
        lines += [f"  {k['component']:<44} {k['kind']:<24} → {k['kernel']}" for k in self.verify.kernels]
        if self.parallel:
            p = self.parallel
            lines.append(f"tensor parallel: {p['ranks']} ranks ({p['backend']}), sharded:")
            lines += [f"  {name:<44} {style}" for name, style in p["sharded"].items()]
            lines += [f"  {name:<44} whole: {why}" for name, why in p["whole"].items()]
        if self.streamed:
            st = self.streamed
            peak = f", peak device memory {st['peak_device_bytes'] / 1e9:.1f} GB" if st["peak_device_bytes"] else ""
            lines.append(f"streamed: {st['layers']} layers, {st['passes']} passes sharing each read; "
                         f"{st['bytes'] / 1e9:.2f} GB read in {st['seconds']:.1f} s ({st['gb_per_s']:.2f} GB/s){peak}; "
                         "kernels not bound and no generation (each would read the checkpoint again)")
        lines.append(self.verify.to_text())
        g = self.generation
        if g:
            lines.append(f"greedy {g['new_tokens']} tokens: reduced and original agree on {g['agree']} "
                         f"(reduced {g['reduced']}, original {g['original']})")
        if self.bench:
            from archread.runtime.bench import bench_lines
            lines += bench_lines(self.bench)
        return "\n".join(lines)


def _modeling(folder: Path, config: dict, modeling: str | None, trust_code: bool):
    """The modeling file to reduce: --modeling, the repo's own (remote code), or the installed transformers'."""
    if modeling is None and config.get("auto_map"):
        own = sorted(folder.glob("modeling_*.py"))
        if own:
            modeling = str(own[0])
    if modeling is None:
        if "model_type" not in config:
            raise ArchreadError(f"{folder / 'config.json'}: no model_type")
        return resolve(config["model_type"])
    source = resolve(modeling)
    root = transformers_root()
    if not (root and source.path.resolve().is_relative_to(root.resolve())) and not trust_code:
        raise ArchreadError(f"{source.path}: outside the installed transformers; pass --trust-code to run it")
    return source


def run(target: str, modeling: str | None = None, device: str = "cuda", dtype: str = "bfloat16",
        trust_code: bool = False, stream: bool = False, bench: bool = False, seq: int = 128,
        new_tokens: int = 8, kernels: bool = True, tp: int = 1, keep_logits: bool = False) -> RunReport:
    if device == "cuda" and not torch.cuda.is_available():
        raise ArchreadError("no CUDA GPU here; use --device cpu")
    if bench and device != "cuda":
        raise ArchreadError("--bench measures GPU prefill: it needs --device cuda")
    folder = checkpoint_folder(target)
    if tp > 1 and (stream or bench):
        raise ArchreadError("--tp shards the model across ranks: it does not combine with --stream or --bench")
    if tp > 1 and not torch.distributed.is_initialized():
        return launch(run, tp, device, folder, dict(target=target, modeling=modeling, device=device, dtype=dtype,
                      trust_code=trust_code, seq=seq, new_tokens=new_tokens, kernels=kernels), keep_logits)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArchreadError(f"{folder / 'config.json'}: not JSON ({exc})") from None
    reduction = reduce_source(_modeling(folder, config, modeling, trust_code))
    transformers = transformers_module()
    transformers.utils.logging.disable_progress_bar()
    try:
        cfg = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_code)
    except Exception as exc:
        raise ArchreadError(f"{folder}: config does not load: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    eager(cfg)
    cfg = on_runnable_values(on_torch_path(cfg, reduction.torch_path), reduction.repaired)
    original_cls = find_original(reduction.source, reduction.roots[0]).model_class
    lookups = looked_up(reduction.source.text)
    if stream:  # neither model is ever whole in memory: no kernel probe, no generation (each a whole pass)
        tokens = candidate_inputs(cfg, lookups, (2, seq))[0]  # 2: padded too
        report, streamed = verify_streamed(reduction, original_cls, cfg, folder, reduction.source.label,
                                           original_cls.__name__, device, dtype, tokens)
        return RunReport(str(folder), str(reduction.source.path), report, streamed=streamed)
    try:
        original, info = original_cls.from_pretrained(folder, config=cfg, dtype=torch.float32, local_files_only=True,
                                                      output_loading_info=True)
        original.eval()
    except Exception as exc:
        raise ArchreadError(f"the original {original_cls.__name__} does not load: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    for kind in ("missing_keys", "unexpected_keys"):  # a tensor its loader left random or dropped: no verdict on it
        if info.get(kind):
            keys = sorted(info[kind])
            raise ArchreadError(f"the checkpoint does not fit the original {original_cls.__name__}: {kind.replace('_', ' ')} "
                                f"{keys[0]} (and {len(keys) - 1} more)")
    reduced = build_model(reduction, cfg)
    state = load_weights(folder, progress=True)
    if set(state) - set(reduced.state_dict()):  # an older layout (per-expert tensors) the original's loader converts
        state = {k: v.detach() for k, v in original.state_dict().items()}
    tied = load_into(reduced, state)
    tokens = first_that_runs(original, candidate_inputs(cfg, lookups, (2, seq)))  # 2: a padded batch too
    parallel = None
    if tp > 1:
        parallel = shard(reduced, original, reduction, cfg, tp, device, tokens)
    bound = []

    def bind_kernels(model):
        if kernels and (device == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"):
            bound.extend(b.to_json() for b in bind(model, tokens[:, :32].to(device)).bindings)

    report = compare_models(reduced, original, cfg, reduction.source.label, original_cls.__name__, device, dtype,
                            tied, tokens=tokens, before_reduced=bind_kernels)
    report.kernels = bound
    result = RunReport(str(folder), str(reduction.source.path), report, parallel=parallel)
    if keep_logits:
        from archread.runtime.compare import run_with_taps

        result.logits = run_with_taps(reduced, tokens.to(device), [])[0]
    if new_tokens:
        result.generation = _greedy(reduced, original, tokens[:1, :16].to(device), new_tokens)
    if bench:
        from archread.runtime.bench import prefill_bench
        del original
        result.bench = prefill_bench(reduced, original_cls, folder, cfg, DTYPES[dtype], device)
    return result


def _greedy(reduced, original, prompt, steps):
    """Greedy continuation by both models (full forward each step: the reduced model keeps no cache)."""
    outs = []
    for model in (reduced, original):
        seq = prompt
        with torch.no_grad():
            for _ in range(steps):
                out = model(seq)
                logits = out if isinstance(out, torch.Tensor) else out.logits
                seq = torch.cat((seq, logits[:, -1:].argmax(-1)), 1)
        outs.append(seq[0, prompt.shape[1]:].tolist())
    agree = next((i for i, (a, b) in enumerate(zip(*outs)) if a != b), steps)
    return {"new_tokens": steps, "agree": agree, "reduced": outs[0], "original": outs[1]}
