"""Checkpoints to test `fit` on: random weights saved by the original classes at archread's tiny configuration
(config.json removed), the same with every role renamed at random, and header-only shards of any size."""

from __future__ import annotations

import json
import random
import string
import struct
from pathlib import Path


def original_checkpoint(entry: dict, folder: Path, keep_config: Path | None = None) -> Path:
    """The original class of a candidate, tiny and random, saved by save_pretrained; config.json removed (moved to
    keep_config where given: what the checkpoint truly is, for a benchmark's judge)."""
    import importlib

    from archread.parsers import resolve
    from archread.runtime.original import find_original
    from archread.runtime.tiny import build_tiny, shrink

    cls = find_original(resolve(Path(entry["path"])), entry["root"]).model_class
    module, name = entry["config_class"]

    config = shrink(getattr(importlib.import_module(module), name)())
    model, _ = build_tiny(cls, config)
    model.save_pretrained(folder, safe_serialization=True)
    if keep_config is not None:
        keep_config.parent.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").replace(keep_config)
    (folder / "config.json").unlink(missing_ok=True)
    (folder / "generation_config.json").unlink(missing_ok=True)
    return folder


def random_names(names: list[str], seed: int) -> dict[str, str]:
    """old -> new: every name component but layer/expert numbers replaced by a random word, consistently (one
    role, one new word), so only the tree, the numbers and the shapes remain."""
    rng = random.Random(seed)
    words: dict[str, str] = {}

    def word(part: str) -> str:
        if part.isdigit():
            return part
        if part not in words:
            words[part] = "".join(rng.choice(string.ascii_lowercase) for _ in range(7))
        return words[part]

    return {n: ".".join(word(p) for p in n.split(".")) for n in names}


def renamed_checkpoint(source: Path, folder: Path, seed: int) -> dict[str, str]:
    """source's tensors under random names (shapes kept) in folder; returns old -> new."""
    from safetensors.torch import load_file, save_file

    state = {}
    for path in sorted(source.glob("*.safetensors")):
        state.update(load_file(path))
    mapping = random_names(list(state), seed)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({mapping[k]: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")
    return mapping


def header_only_shards(folder: Path, shapes: dict[str, tuple], shards: int, dtype: str = "BF16") -> int:
    """A sharded checkpoint whose shards hold headers with offsets as if the data followed, and no data; returns
    the bytes the headers describe."""
    size = {"BF16": 2, "F16": 2, "F32": 4}[dtype]
    folder.mkdir(parents=True, exist_ok=True)
    names = list(shapes)
    weight_map, total = {}, 0
    for s in range(shards):
        chunk = names[s * len(names) // shards:(s + 1) * len(names) // shards]
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        header, offset = {}, 0
        for n in chunk:
            count = 1
            for d in shapes[n]:
                count *= d
            header[n] = {"dtype": dtype, "shape": list(shapes[n]), "data_offsets": [offset, offset + count * size]}
            offset += count * size
            weight_map[n] = file
        raw = json.dumps(header).encode()
        (folder / file).write_bytes(struct.pack("<Q", len(raw)) + raw)
        total += offset
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}), encoding="utf-8")
    return total
