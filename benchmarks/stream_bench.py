"""`run --stream` on one GPU: a Llama-3-70B-shaped slice, larger than a GPU memory cap, verified at what
fraction of the disk's read rate (measured in the same run, page cache dropped before each read).

    python benchmarks/stream_bench.py --folder /tmp/slice70b [--layers N] [--cap-gb 28] [--json OUT.json]

Writes the slice (random weights, a shard per layer), reads it once with the streaming reader alone (the disk
rate), then verifies it with `run --stream` under `torch.cuda.set_per_process_memory_fraction`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file

from archread.runtime.layer_reader import disk_rate, evict
from archread.runtime.run import run

SHAPE = dict(hidden_size=8192, intermediate_size=28672, num_attention_heads=64, num_key_value_heads=8,
             head_dim=128, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
             rms_norm_eps=1e-5, tie_word_embeddings=False)  # Llama-3-70B's, with fewer layers


def write_slice(folder: Path, layers: int) -> int:
    cfg = transformers.LlamaConfig(**SHAPE, num_hidden_layers=layers)
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save_pretrained(folder)
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in transformers.LlamaForCausalLM(cfg).state_dict().items()}
    groups: dict[str, list[str]] = {}
    for name in shapes:
        part = name.split(".")[2] if ".layers." in name else "outer"
        groups.setdefault(f"part-{part}.safetensors", []).append(name)
    weight_map, total = {}, 0
    g = torch.Generator(device="cuda").manual_seed(0)
    for shard, names in groups.items():
        tensors = {}
        for n in names:
            if n.endswith("norm.weight"):
                t = torch.ones(shapes[n], dtype=torch.bfloat16)
            else:
                t = (torch.randn(shapes[n], generator=g, device="cuda", dtype=torch.float32) * 0.02).to(torch.bfloat16).cpu()
            tensors[n] = t
            total += t.numel() * t.element_size()
        save_file(tensors, str(folder / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in names})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, required=True)
    ap.add_argument("--layers", type=int, default=0, help="decoder layers (default: as many as 60%% of the free disk holds, ≤ 24)")
    ap.add_argument("--cap-gb", type=float, default=28.0)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    free = shutil.disk_usage(args.folder.parent).free
    layers = args.layers or max(2, min(24, int((0.6 * free - 4.3e9) / 1.713e9)))
    t0 = time.perf_counter()
    size = write_slice(args.folder, layers)
    files = sorted(args.folder.glob("*.safetensors"))
    print(f"wrote {size / 1e9:.1f} GB ({layers} layers) in {time.perf_counter() - t0:.0f} s", flush=True)
    evict(files)
    rate = disk_rate(args.folder)
    print(f"disk read rate {rate / 1e9:.2f} GB/s", flush=True)
    evict(files)
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(args.cap_gb * 1e9 / total)
    result = run(str(args.folder), device="cuda", dtype="bfloat16", stream=True, seq=args.seq, new_tokens=0, kernels=False)
    st, v = result.streamed, result.verify
    row = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "transformers": transformers.__version__,
           "layers": layers, "checkpoint_gb": size / 1e9, "cap_gb": args.cap_gb,
           "peak_gb": st["peak_device_bytes"] / 1e9, "disk_gb_per_s": rate / 1e9, "stream_gb_per_s": st["gb_per_s"],
           "ratio": st["gb_per_s"] / (rate / 1e9), "seconds": st["seconds"], "passes": st["passes"],
           "match": v.match, "logits_rel_l2": v.to_json()["logits"]["rel_l2"],
           "original_own_rel_l2": v.to_json()["original_low_precision"][-1]["rel_l2"]}
    print("| " + " | ".join(row) + " |")
    print("| " + " | ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in row.values()) + " |")
    print(v.to_text())
    if args.json:
        args.json.write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
