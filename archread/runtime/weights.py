"""Safetensors checkpoints: one file, a sharded index, or an HF cache snapshot folder. Never pickle."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from archread.errors import ArchreadError


def hf_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"


def checkpoint_folder(target: str) -> Path:
    """A checkpoint folder, an HF cache repo folder (its snapshot for refs/main), or org/name in the local cache."""
    path = Path(target).expanduser()
    if not path.is_dir() and target.count("/") == 1 and not target.startswith((".", "/")):
        path = hf_cache() / ("models--" + target.replace("/", "--"))
        if not path.is_dir():
            raise ArchreadError(f"{target}: not a folder, and not in the local Hugging Face cache ({hf_cache()})")
    if not path.is_dir():
        raise ArchreadError(f"{target}: not a checkpoint folder")
    snapshots = path / "snapshots"
    if snapshots.is_dir():
        ref = path / "refs" / "main"
        chosen = snapshots / ref.read_text().strip() if ref.is_file() else None
        if chosen is None or not chosen.is_dir():
            found = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime)
            if not found:
                raise ArchreadError(f"{path}: an HF cache folder with no snapshot")
            chosen = found[-1]
        path = chosen
    if not (path / "config.json").is_file():
        raise ArchreadError(f"{path}: no config.json")
    return path


def weight_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ArchreadError(f"{folder}: not a checkpoint folder")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError) as exc:
            raise ArchreadError(f"{index}: not a safetensors index ({exc})") from None
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise ArchreadError(f"{folder}: missing shard {missing[0]} named in {index.name}")
        return [folder / s for s in shards]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ArchreadError(f"{folder}: no *.safetensors weights (pickle checkpoints are not loaded)")
    return files


def load_weights(folder: Path, dtype: torch.dtype | None = None, device: str = "cpu",
                 progress: bool = False) -> dict[str, torch.Tensor]:
    """Every tensor, memory-mapped from disk and converted to dtype on its way to the device, one at a time."""
    state: dict[str, torch.Tensor] = {}
    files = weight_files(folder)
    bar = _progress(sum(p.stat().st_size for p in files)) if progress else None
    try:
        for path in files:
            try:
                with safe_open(str(path), framework="pt", device="cpu") as f:
                    for key in f.keys():
                        t = f.get_tensor(key)
                        if bar:
                            bar[0].advance(bar[1], t.numel() * t.element_size())
                        state[key] = t.to(device=device, dtype=dtype if dtype and t.is_floating_point() else t.dtype)
            except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
                raise ArchreadError(f"{path}: unreadable safetensors file ({str(exc).splitlines()[0]})") from None
    finally:
        if bar:
            bar[0].stop()
    return state


def _progress(total: int):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    progress = Progress("loading weights", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        console=Console(file=sys.stderr), transient=True, disable=not sys.stderr.isatty())
    progress.start()
    return progress, progress.add_task("load", total=total)


def tie_sources(own: dict[str, tuple], state: dict[str, tuple]) -> list[str]:
    """Check that the checkpoint's names and shapes are the model's; for each model key the checkpoint lacks,
    the one embedding of its shape that stands for it (`lm_head.weight = model.embed_tokens.weight`)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if unexpected:
        raise ArchreadError(f"unexpected weight {unexpected[0]} (and {len(unexpected) - 1} more) for this model")
    tied = []
    for key in missing:
        twins = [k for k, shape in state.items() if shape == own[key] and any(w in k for w in ("embed", "wte", "word"))]
        if len(twins) != 1:
            raise ArchreadError(f"missing weight {key} (and {len(missing) - 1} more) in the checkpoint")
        tied.append(f"{key} = {twins[0]}")
    wrong = [k for k in state if k in own and state[k] != own[k]]
    if wrong:
        k = wrong[0]
        raise ArchreadError(f"shape mismatch for {k}: checkpoint {state[k]}, model {own[k]}")
    return tied


def as_declared(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An original's random weights in the shapes the reduced model declares, where its own initialisation gave a
    parameter another shape of the same values (RWKV-6's `time_decay.data = decay.reshape(heads, head_size)`
    over its declared (1, 1, width)): only dimensions of size one differ, so every broadcast reads the same."""
    own = model.state_dict()

    def squeezed(shape) -> list[int]:
        return [d for d in shape if d != 1]
    return {k: v.reshape(own[k].shape) if k in own and v.shape != own[k].shape and squeezed(v.shape) == squeezed(own[k].shape)
            else v for k, v in state.items()}


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load with every key accounted for; tie an output embedding the checkpoint left out. Returns tied keys."""
    tied = tie_sources({k: tuple(v.shape) for k, v in model.state_dict().items()},
                       {k: tuple(v.shape) for k, v in state.items()})
    model.load_state_dict(state, strict=False)
    for pair in tied:
        key, source = pair.split(" = ")
        owner, _, leaf = key.rpartition(".")
        src_owner, _, src_leaf = source.rpartition(".")
        setattr(model.get_submodule(owner), leaf, getattr(model.get_submodule(src_owner), src_leaf))
    return tied
