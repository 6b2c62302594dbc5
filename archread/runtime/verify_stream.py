"""`run --stream`: the whole check with one or two decoder layers' weights on the device, read from disk once.

The models are built without weights (parameters on the meta device; buffers as their code computes them).
What lies outside the decoder layers (embedding, final norm, head) is read once and stays; the layers stream
through `Lockstep`, shared by every pass the verdict needs. The verdict is the same `judge` as the
in-memory path's, on the same outputs.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import torch
from torch import nn

from archread.errors import ArchreadError, one_line
from archread.runtime.build import build_model
from archread.runtime.compare import error, padding_mask, real_token_logits, run_with_taps, watched
from archread.runtime.layer_reader import CheckpointReader
from archread.runtime.lockstep import Lockstep
from archread.runtime.report import VerifyReport, has, judge, setup_of
from archread.runtime.verify import DTYPES
from archread.runtime.weights import tie_sources


@contextmanager
def weightless():
    """Modules built here get their parameters on the meta device: no memory, and initialisers that do
    nothing; buffers (rotary tables, masks) are computed as usual. Used only while building, on one thread."""
    register = nn.Module.register_parameter

    def on_meta(self, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(self, name, param)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def layer_keys(model: nn.Module) -> list[str]:
    """The children of the outermost ModuleLists (decoder layers; experts stay inside their layer)."""
    keys: list[str] = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and not any(name.startswith(k + ".") for k in keys):
            keys += [f"{name}.{i}" if name else str(i) for i in range(len(mod))]
    return keys


def verify_streamed(reduction, original_cls, cfg, folder, label: str, reference: str, device: str, dtype: str,
                    tokens: torch.Tensor) -> tuple[VerifyReport, dict]:
    reader = CheckpointReader(folder)
    low = DTYPES[dtype]
    dtypes = [torch.float32] + ([low] if low is not torch.float32 else [])
    mask = padding_mask(tokens) if tokens.shape[0] > 1 else None
    paddings = [False] + ([True] if mask is not None else [])
    try:
        with weightless():
            originals = {(dt, padded): original_cls(cfg).eval() for dt in dtypes for padded in paddings}
            reduceds = {padded: build_model(reduction, cfg).eval() for padded in paddings}
    except Exception as exc:
        raise ArchreadError(f"the models do not build without weights: {type(exc).__name__}: {one_line(exc)}") from None
    some_reduced, some_original = reduceds[False], originals[(torch.float32, False)]
    shapes = reader.shapes()
    own = {k: tuple(v.shape) for k, v in some_reduced.state_dict().items()}
    if set(shapes) - set(own):
        raise ArchreadError(f"--stream reads tensors by the model's own names; this checkpoint names "
                            f"{next(iter(set(shapes) - set(own)))} in a layout its loader converts: run without --stream")
    tied = tie_sources(own, shapes)
    their_ties = tie_sources({k: tuple(v.shape) for k, v in some_original.state_dict().items()}, shapes)
    keys = layer_keys(some_reduced)
    missing = [k for k in keys if not has(some_original, k)]
    if missing:
        raise ArchreadError(f"the original has no module {missing[0]}: the two models' layers are not the same")
    buffers = {n for m in (some_reduced, some_original) for n, _ in m.named_buffers()}
    layers = {k: [n for n in shapes if n.startswith(k + ".") and n not in buffers] for k in keys}
    in_layers = {n for names in layers.values() for n in names}
    start = time.perf_counter()
    resident = Resident(reader, [n for n in shapes if n not in in_layers], device)
    bar = _Progress(len(keys), reader, start)
    step = Lockstep(reader, layers, device, on_layer=bar.advance)
    names = [n for n in watched(some_reduced) if has(some_original, n)]
    tokens = tokens.to(device)
    passes = [(("original", dt, padded), model, dt, their_ties) for (dt, padded), model in originals.items()]
    passes += [(("reduced", low, padded), model, low, tied) for padded, model in reduceds.items()]
    jobs = {}
    for key, model, dt, ties in passes:
        resident.place(model, dt, set(keys), ties)
        step.attach(model, key, dt)
        jobs[key] = _job(model, tokens, names, mask if key[2] else None)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        out = step.run(jobs)
    finally:
        bar.stop()
    seconds = time.perf_counter() - start
    reader.close()
    for key, value in out.items():
        if isinstance(value, Exception) and not key[2]:
            who = "original" if key[0] == "original" else "reduced model"
            raise ArchreadError(f"the {who} does not run: {type(value).__name__}: {one_line(value)}")
    want_logits, want = out[("original", torch.float32, False)]
    got_logits, got = out[("reduced", low, False)]
    baseline = []
    if low is not torch.float32:
        base_logits, base = out[("original", low, False)]
        baseline = [error(n, base[n], want[n]) for n in names if n in base and n in want] + [error("logits", base_logits, want_logits)]
    padded = None
    if mask is not None:
        theirs = out[("original", torch.float32, True)]
        if isinstance(theirs, Exception):
            padded = f"padded batch not checked: the original rejects it ({type(theirs).__name__}: {one_line(theirs)})"
        else:
            base_padded = out.get(("original", low, True)) if low is not torch.float32 else None
            padded = (out[("reduced", low, True)], theirs, base_padded)
            if isinstance(padded[0], Exception):
                raise ArchreadError(f"the reduced model does not run on the padded batch: {one_line(padded[0])}")
    report = judge(label, reference, dtype, device, names, (got_logits, got), (want_logits, want), baseline, tied,
                   padded=padded, setup=setup_of(cfg, tokens, mask))
    streamed = {"bytes": reader.bytes_read, "checkpoint_bytes": reader.nbytes(), "seconds": seconds,
                "gb_per_s": reader.bytes_read / seconds / 1e9, "layers": len(keys), "passes": len(jobs),
                "peak_device_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None}
    return report, streamed


class _Progress:
    """Layers done and the read rate, on stderr while a terminal shows it."""

    def __init__(self, layers: int, reader, start: float):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.reader, self.start = reader, start
        self.bar = Progress("streaming layers", BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            console=Console(file=sys.stderr), transient=True, disable=not sys.stderr.isatty())
        self.task = self.bar.add_task("layers", total=layers, rate="")
        self.bar.start()

    def advance(self, _key) -> None:
        rate = self.reader.bytes_read / max(time.perf_counter() - self.start, 1e-9) / 1e9
        self.bar.update(self.task, advance=1, rate=f"{rate:.2f} GB/s")

    def stop(self) -> None:
        self.bar.stop()


def _job(model, tokens, names, mask):
    if mask is None:
        return lambda: run_with_taps(model, tokens, names)

    def padded():
        try:
            return real_token_logits(model, tokens, mask)
        except Exception as exc:  # judged by the caller: an original may refuse padding
            return exc
    return padded


class Resident:
    """The tensors outside the layers, read once, one device copy per dtype, shared by the models."""

    def __init__(self, reader: CheckpointReader, names: list[str], device: str):
        self.raw = reader.read(names, device) if names else {}
        self.device = device
        self._copies: dict[tuple[str, torch.dtype], torch.Tensor] = {}

    def tensor(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        if (name, dtype) not in self._copies:
            t = self.raw[name]
            self._copies[(name, dtype)] = t.to(dtype) if t.is_floating_point() else t
        return self._copies[(name, dtype)]

    def place(self, model: nn.Module, dtype: torch.dtype, layers: set[str], tied: list[str]) -> None:
        """Buffers onto the device in `dtype`; parameters outside the layers from the checkpoint, every module
        that shares a parameter given the same one; those inside the layers left for the lockstep."""
        twin = dict(pair.split(" = ") for pair in tied)
        owners: dict[int, list[tuple[nn.Module, str, str]]] = {}
        for path, mod in model.named_modules(remove_duplicate=False):
            for leaf, p in mod._parameters.items():
                name = f"{path}.{leaf}" if path else leaf
                if p is not None and not any(name.startswith(k + ".") for k in layers):
                    owners.setdefault(id(p), []).append((mod, leaf, name))
            for leaf, b in mod._buffers.items():
                name = f"{path}.{leaf}" if path else leaf
                if b is not None:
                    found = self.raw.get(name)
                    value = found if found is not None else b
                    mod._buffers[leaf] = value.to(self.device, dtype if value.is_floating_point() else value.dtype)
        for slots in owners.values():
            source = next((n for _, _, n in slots if n in self.raw), None) or next(
                (twin[n] for _, _, n in slots if n in twin), None)
            if source is None:
                raise ArchreadError(f"missing weight {slots[0][2]} in the checkpoint")
            param = nn.Parameter(self.tensor(source, dtype), requires_grad=False)
            for mod, leaf, _ in slots:
                mod._parameters[leaf] = param
