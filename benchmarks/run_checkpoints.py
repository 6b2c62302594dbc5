"""issue 7's acceptance run on one GPU: random-weight checkpoints at realistic shapes, saved by the original
transformers classes as bf16 safetensors, then `archread run` on each (bf16, kernels bound by probing) and
`--bench` on the two Llama shapes. Prints each report; writes all of them as JSON.

    python benchmarks/run_checkpoints.py [--json OUT.json] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import transformers

from archread.runtime.run import run

SHAPES = {  # name: (model_type, config fields, bench?)
    "llama3-8b-2layer": ("llama", dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=2,
                                       num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                                       max_position_embeddings=8192, tie_word_embeddings=False), True),
    "llama3.2-1b": ("llama", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                  num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                                  max_position_embeddings=8192, tie_word_embeddings=True), True),
    "nemotron-4b-4layer": ("nemotron", dict(hidden_size=3072, intermediate_size=9216, num_hidden_layers=4,
                                            num_attention_heads=24, num_key_value_heads=8, head_dim=128,
                                            partial_rotary_factor=0.5, vocab_size=256000), False),
    "gemma2-2b-4layer": ("gemma2", dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=4,
                                        num_attention_heads=8, num_key_value_heads=4, head_dim=256,
                                        vocab_size=256000, sliding_window=4096, query_pre_attn_scalar=256), False),
    "phi3-mini-4layer": ("phi3", dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=4,
                                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32064), False),
}


def save_checkpoint(folder: Path, model_type: str, fields: dict) -> Path:
    cfg = transformers.AutoConfig.for_model(model_type, **fields)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__} transformers {transformers.__version__}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model_type, fields, bench) in SHAPES.items():
            if args.only and name not in args.only:
                continue
            start = time.perf_counter()
            folder = save_checkpoint(Path(tmp) / name, model_type, fields)
            try:
                report = run(str(folder), device="cuda", dtype="bfloat16", seq=args.tokens, bench=bench)
            except Exception as exc:  # noqa: BLE001 - one model failing must not hide the others
                print(f"== {name}: FAILED {type(exc).__name__}: {exc}")
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            print(f"\n== {name} ({time.perf_counter() - start:.0f} s)\n{report.to_text()}")
            results[name] = report.to_json()
            torch.cuda.empty_cache()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
