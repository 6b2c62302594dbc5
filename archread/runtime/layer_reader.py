"""Read chosen tensors of a safetensors checkpoint straight from disk into pinned memory, then onto the device.

Streaming a checkpoint larger than memory reads each decoder layer once: the tensors' byte ranges come from
the headers, neighbouring ranges are read as one, in chunks by several threads (a file read lets go of the
GIL, and an NVMe disk wants several requests in flight), into a pinned buffer that the device copies from
asynchronously. `disk_rate` times the same reads with nothing else to do: the rate streaming is held to.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from archread.errors import ArchreadError
from archread.fit.headers import read_file_header
from archread.runtime.weights import weight_files

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}
CHUNK = 32 * 2**20  # bytes per read request
READERS = 8  # requests in flight


@dataclass(frozen=True)
class Entry:
    path: Path
    start: int  # absolute byte offset in the file
    end: int
    dtype: torch.dtype
    shape: tuple[int, ...]


class CheckpointReader:
    """Every tensor's place on disk, from the headers alone."""

    def __init__(self, folder: Path):
        self.files = weight_files(folder)
        self.entries: dict[str, Entry] = {}
        for path in self.files:
            header = read_file_header(path)
            with path.open("rb") as f:
                base = 8 + int.from_bytes(f.read(8), "little")  # tensor offsets count from the header's end
            for name, e in header.items():
                if name == "__metadata__":
                    continue
                if e.get("dtype") not in DTYPES:
                    raise ArchreadError(f"{path}: tensor {name} has dtype {e.get('dtype')}, which streaming does not read")
                begin, stop = e["data_offsets"]
                self.entries[name] = Entry(path, base + begin, base + stop, DTYPES[e["dtype"]], tuple(e["shape"]))
        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="archread-read")
        self.bytes_read = 0
        self._side = None

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: e.shape for name, e in self.entries.items()}

    def nbytes(self, names=None) -> int:
        return sum(e.end - e.start for n, e in self.entries.items() if names is None or n in names)

    def read(self, names: list[str], device: str) -> dict[str, torch.Tensor]:
        """The named tensors on `device` (their checkpoint dtype). On CUDA the copies run on a side stream;
        the caller's stream waits for them before it uses the tensors."""
        ranges = _coalesced([self.entries[n] for n in names])
        total = sum(end - start for _, start, end in ranges)
        staging = torch.empty(total, dtype=torch.uint8, pin_memory=device != "cpu" and torch.cuda.is_available())
        placed, at = {}, 0
        jobs = []
        for path, start, end in ranges:
            placed[(path, start)] = at
            jobs += [(path, s, min(s + CHUNK, end), at + s - start) for s in range(start, end, CHUNK)]
            at += end - start
        view = staging.numpy()
        list(self._pool.map(lambda job: _read_into(view, *job), jobs))
        self.bytes_read += total
        host = {}
        for name in names:
            e = self.entries[name]
            path, first = next((p, s) for p, s, stop in ranges if p == e.path and s <= e.start < stop)
            offset = placed[(path, first)] + e.start - first
            host[name] = staging[offset:offset + e.end - e.start].view(e.dtype).view(e.shape)
        if device == "cpu":
            return host
        if self._side is None:
            self._side = torch.cuda.Stream()
        with torch.cuda.stream(self._side):
            moved = {n: t.to(device, non_blocking=True) for n, t in host.items()}
        self._side.synchronize()  # the pinned staging may be reused once this returns
        for t in moved.values():  # used on the default stream by the passes: freed only once that is past them
            t.record_stream(torch.cuda.default_stream())
        return moved

    def close(self):
        self._pool.shutdown(wait=True)


def _coalesced(entries: list[Entry]) -> list[tuple[Path, int, int]]:
    """(file, start, end) byte ranges covering the entries, neighbours merged."""
    out: list[list] = []
    for e in sorted(entries, key=lambda e: (str(e.path), e.start)):
        if out and out[-1][0] == e.path and out[-1][2] >= e.start:
            out[-1][2] = max(out[-1][2], e.end)
        else:
            out.append([e.path, e.start, e.end])
    return [tuple(r) for r in out]


def _read_into(view, path: Path, start: int, end: int, at: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < end - start:
            got = os.preadv(fd, [memoryview(view[at + done:at + end - start])], start + done)
            if got <= 0:
                raise ArchreadError(f"{path}: ends before the tensor data its header names")
            done += got
    finally:
        os.close(fd)


def evict(paths) -> None:
    """Ask the kernel to drop these files from its page cache, so the next read comes from the disk."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def disk_rate(folder: Path, limit: int | None = None) -> float:
    """Bytes per second the disk gives these readers for the checkpoint's tensor data, nothing else done."""
    reader = CheckpointReader(folder)
    names, size = [], 0
    for name, e in reader.entries.items():  # in groups of about a layer's size, as streaming reads
        if limit is not None and size >= limit:
            break
        names.append(name)
        size += e.end - e.start
    start = time.perf_counter()
    group, at = [], 0
    for name in names:
        group.append(name)
        at += reader.entries[name].end - reader.entries[name].start
        if at >= 256 * 2**20:
            reader.read(group, "cpu")
            group, at = [], 0
    if group:
        reader.read(group, "cpu")
    seconds = time.perf_counter() - start
    reader.close()
    return size / seconds
