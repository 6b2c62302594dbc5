"""Safetensors checkpoints: one file, a sharded index, or an HF cache snapshot folder. Never pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from archread.errors import ArchreadError


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


def load_weights(folder: Path, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        try:
            part = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ArchreadError(f"{path}: unreadable safetensors file ({str(exc).splitlines()[0]})") from None
        state.update(part)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    return state


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load with every key accounted for; tie an output embedding the checkpoint left out. Returns tied keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if unexpected:
        raise ArchreadError(f"unexpected weight {unexpected[0]} (and {len(unexpected) - 1} more) for this model")
    tied = []
    for key in missing:
        twins = [k for k, v in state.items() if v.shape == own[key].shape and any(w in k for w in ("embed", "wte", "word"))]
        if len(twins) != 1:
            raise ArchreadError(f"missing weight {key} (and {len(missing) - 1} more) in the checkpoint")
        tied.append(f"{key} = {twins[0]}")
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if wrong:
        k = wrong[0]
        raise ArchreadError(f"shape mismatch for {k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}")
    model.load_state_dict(state, strict=False)
    for pair in tied:
        key, source = pair.split(" = ")
        owner, _, leaf = key.rpartition(".")
        src_owner, _, src_leaf = source.rpartition(".")
        setattr(model.get_submodule(owner), leaf, getattr(model.get_submodule(src_owner), src_leaf))
    return tied
