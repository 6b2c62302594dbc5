"""`archread run --tp N`: the check on N ranks of torch.distributed (NCCL on GPUs, gloo on CPUs).

Under torchrun (WORLD_SIZE set) this process is one rank; otherwise N ranks are spawned here and rank 0's
report comes back through a queue. Every rank runs the same `run()`: it builds both models whole on the
CPU, derives the plan from the reduced model (tp_plan.py) and shards the reduced model and the original
by the same module paths with torch's `parallelize_module`, then compares as one process would.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
import traceback
from pathlib import Path

import torch
import torch.distributed as dist

from archread.errors import ArchreadError, one_line


def devices(device: str) -> int:
    """Ranks this machine can hold: its GPUs, or for the CPU its cores."""
    if device == "cuda":
        return torch.cuda.device_count()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check(folder: Path, tp: int, device: str) -> None:
    """What can be refused before any rank starts: too many ranks, heads that do not split."""
    if tp < 1:
        raise ArchreadError("--tp must be ≥ 1")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config = config.get("text_config", config)
    for key, what in (("num_attention_heads", "attention heads"), ("num_key_value_heads", "key/value heads")):
        value = config.get(key)
        if isinstance(value, int) and value % tp:
            raise ArchreadError(f"--tp {tp} does not divide the {value} {what} (config.json {key})")
    have = devices(device)
    if tp > have:
        what = "GPUs" if device == "cuda" else "CPU cores"
        raise ArchreadError(f"--tp {tp}: more ranks than devices (this machine has {have} {what})")


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", 0))


def launch(run, tp: int, device: str, folder: Path, run_kwargs: dict, keep_logits: bool = False):
    """Rank 0's RunReport of `run(**run_kwargs)` on `tp` ranks (`run` is passed in: it is what calls this)."""
    check(folder, tp, device)
    if "WORLD_SIZE" in os.environ:  # started by torchrun: this process is one of the ranks
        if int(os.environ["WORLD_SIZE"]) != tp:
            raise ArchreadError(f"--tp {tp} under torchrun with {os.environ['WORLD_SIZE']} processes")
        _join(device, "env://", int(os.environ["RANK"]), tp)
        try:
            return run(**run_kwargs, tp=tp)
        finally:
            dist.destroy_process_group()
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="archread-tp-") as tmp:
        rendezvous = f"file://{tmp}/rendezvous"
        try:
            mp.start_processes(_rank_main, args=(run, tp, device, rendezvous, run_kwargs, keep_logits, tmp),
                               nprocs=tp, start_method="spawn", join=True)
        except (mp.ProcessExitedException, mp.ProcessRaisedException):
            pass  # a rank failed: its own line is in the queue (or its log)
        outcome = {}
        for path in sorted(Path(tmp).glob("rank*.result")):  # files: a pipe would block a rank on a large report
            r, kind, value = pickle.loads(path.read_bytes())
            outcome.setdefault(kind, (r, value))
        if "report" in outcome and "error" not in outcome:
            return outcome["report"][1]
        if "error" in outcome:
            r, message = outcome["error"]
            raise ArchreadError(f"rank {r}: {message}" if r else message)
        logs = sorted(Path(tmp).glob("rank*.log"))
        tail = [line for log in logs for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise ArchreadError(f"a rank stopped without a report: {tail[-1] if tail else 'no output'}")


def _join(device: str, init_method: str, r: int, tp: int) -> None:
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", r)))
    dist.init_process_group("nccl" if device == "cuda" else "gloo", init_method=init_method, rank=r, world_size=tp)


def _rank_main(r: int, run, tp: int, device: str, rendezvous: str, run_kwargs: dict, keep_logits: bool, tmp: str):
    """One spawned rank: its output goes to a log (the parent prints one report or one line)."""
    log = open(Path(tmp) / f"rank{r}.log", "w")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log

    def put(kind, value):
        (Path(tmp) / f"rank{r}.result").write_bytes(pickle.dumps((r, kind, value)))

    try:
        _join(device, rendezvous, r, tp)
        report = run(**run_kwargs, tp=tp, keep_logits=keep_logits)
        if r == 0:
            put("report", report)
    except ArchreadError as exc:
        put("error", str(exc))
        raise SystemExit(2)
    except Exception as exc:  # what a rank met that archread did not foresee: still one line for the parent
        traceback.print_exc()
        put("error", f"{type(exc).__name__}: {one_line(exc)}")
        raise SystemExit(2)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        log.flush()


def shard(reduced, original, reduction, cfg, tp: int, device: str, tokens: torch.Tensor) -> dict:
    """Both models sharded by the plan derived from the reduced one (their module paths are the same)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import parallelize_module

    from archread.runtime.tp_plan import derive_plan

    plan = derive_plan(reduced, reduction.code, cfg, tp, tokens[:, :8])
    mesh = init_device_mesh("cuda" if device == "cuda" else "cpu", (tp,))
    for model in (reduced, original):
        missing = [n for n in plan.styles if not _has(model, n)]
        if missing:
            raise ArchreadError(f"the original has no {missing[0]} to shard as the reduced model is")
        try:
            parallelize_module(model, mesh, plan.torch_styles())
        except Exception as exc:
            raise ArchreadError(f"{type(model).__name__} does not shard: {type(exc).__name__}: {one_line(exc)}") from None
    return {"ranks": tp, "backend": dist.get_backend(), **plan.to_json()}


def _has(model, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False
