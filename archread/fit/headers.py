"""Safetensors headers: names, shapes and dtypes, read without touching tensor data (pure Python).

A safetensors file opens with an 8-byte little-endian header length and that many bytes of JSON; a sharded
checkpoint adds model.safetensors.index.json naming the shard of every tensor.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from archread.errors import ArchreadError

_MAX_HEADER = 100 * 2**20  # the format's own limit on a header


@dataclass
class Header:
    """Every tensor of a checkpoint: name -> shape, name -> dtype, in the order the files list them."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    nbytes: int = 0  # the tensor data the headers describe


def read_file_header(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ArchreadError(f"{path}: not a safetensors file (shorter than its header length)")
            (size,) = struct.unpack("<Q", head)
            if size > _MAX_HEADER:
                raise ArchreadError(f"{path}: not a safetensors file (header length {size} is out of range)")
            raw = f.read(size)
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) < size:
        raise ArchreadError(f"{path}: truncated safetensors header ({len(raw)} of {size} bytes)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchreadError(f"{path}: safetensors header does not parse ({exc})") from None
    if not isinstance(header, dict):
        raise ArchreadError(f"{path}: safetensors header is not a JSON object")
    return header


def _add(result: Header, path: Path, header: dict, wanted: set[str] | None) -> None:
    for name, entry in header.items():
        if name == "__metadata__" or (wanted is not None and name not in wanted):
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ArchreadError(f"{path}: tensor {name} has no valid shape in the header")
        result.shapes[name] = tuple(shape)
        result.dtypes[name] = str(entry.get("dtype", "?"))
        offsets = entry.get("data_offsets")
        if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets):
            result.nbytes += offsets[1] - offsets[0]


def read_headers(folder: Path) -> Header:
    """The headers of a checkpoint folder: a sharded index (its shards' headers), else every *.safetensors."""
    folder = Path(folder)
    if folder.is_file() and folder.suffix == ".safetensors":
        files, weight_map = [folder], None
    elif not folder.is_dir():
        raise ArchreadError(f"{folder}: not a checkpoint folder")
    else:
        files, weight_map = _files(folder)
    result = Header(files=files)
    for path in files:
        wanted = {k for k, v in weight_map.items() if v == path.name} if weight_map else None
        _add(result, path, read_file_header(path), wanted)
    if weight_map:
        absent = [k for k in weight_map if k not in result.shapes]
        if absent:
            raise ArchreadError(f"{folder}: {absent[0]} is in the index but not in its shard {weight_map[absent[0]]}")
    if not result.shapes:
        raise ArchreadError(f"{folder}: the safetensors files hold no tensors")
    return result


def _files(folder: Path) -> tuple[list[Path], dict | None]:
    indexes = sorted(folder.glob("*.safetensors.index.json"))
    if indexes:
        index = indexes[0]
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
                raise ValueError("weight_map is not a name -> file table")
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchreadError(f"{index}: not a safetensors index ({exc})") from None
        shards = list(dict.fromkeys(weight_map.values()))
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise ArchreadError(f"{folder}: missing shard {missing[0]} named in {index.name}")
        return [folder / s for s in shards], weight_map
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ArchreadError(f"{folder}: no *.safetensors weights (pickle checkpoints are not read)")
    return files, None
