"""`run --stream`: the check with the decoder layers read from disk one at a time, shared by every pass.
It must give the in-memory check's verdict and errors, read each tensor once, and never call NaN a match."""

import json

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from archread.cli import main
from archread.runtime.layer_reader import CheckpointReader
from archread.runtime.lockstep import Lockstep
from archread.runtime.tiny import shrink


def checkpoint(folder, model_type, shards=1):
    """A tiny random checkpoint as the 5.x classes name their weights (stacked experts), in `shards` files."""
    cfg = shrink(transformers.AutoConfig.for_model(model_type))
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in transformers.AutoModelForCausalLM.from_config(cfg).state_dict().items()}
    cfg.save_pretrained(folder)
    names = sorted(state)
    index = {}
    for i in range(shards):
        part = names[i::shards]
        save_file({k: state[k] for k in part}, str(folder / f"part{i}.safetensors"), metadata={"format": "pt"})
        index.update({k: f"part{i}.safetensors" for k in part})
    if shards > 1:
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": index}))
    return folder


def report(capsys, folder, *flags):
    code = main(["run", str(folder), "--device", "cpu", "--format", "json", "--tokens", "24", "--generate", "0",
                 "--no-kernels", *flags])
    out = capsys.readouterr()
    assert out.out, out.err
    return code, json.loads(out.out)


# llama: tied head; gemma2: sliding window shorter than the batch, softcaps; mixtral: experts nested in a layer
@pytest.mark.parametrize("model_type", ["llama", "gemma2", "mixtral"])
def test_streaming_gives_the_in_memory_verdict_reading_each_tensor_once(model_type, tmp_path, capsys):
    folder = checkpoint(tmp_path / model_type, model_type, shards=3)
    code, streamed = report(capsys, folder, "--dtype", "float16", "--stream")
    assert code == 0 and streamed["match"], streamed
    st = streamed["streamed"]
    assert st["bytes"] == st["checkpoint_bytes"] and st["passes"] == 6  # float32, float16, reduced; each padded too
    code, whole = report(capsys, folder, "--dtype", "float16")
    assert code == 0 and whole["streamed"] is None
    for key in ("layers", "logits", "padded", "original_low_precision"):
        assert streamed[key] == whole[key], key  # the same computation, only the weights' journey differs


def test_a_nan_weight_streamed_is_no_match(tmp_path, capsys):
    folder = checkpoint(tmp_path / "llama", "llama")
    weights = load_file(folder / "part0.safetensors")
    name = next(n for n in weights if "layers.1.mlp.down_proj" in n)
    weights[name][0, 0] = float("nan")
    save_file(weights, folder / "part0.safetensors", metadata={"format": "pt"})
    code, streamed = report(capsys, folder, "--dtype", "float32", "--stream")
    assert code == 1 and not streamed["match"]


def test_the_lockstep_keeps_passes_within_its_window_and_frees_what_no_pass_needs(tmp_path):
    folder = checkpoint(tmp_path / "llama", "llama")
    reader = CheckpointReader(folder)
    cfg = shrink(transformers.AutoConfig.for_model("llama"))
    keys = [f"model.layers.{i}" for i in range(cfg.num_hidden_layers)]
    layers = {k: [n for n in reader.entries if n.startswith(k + ".")] for k in keys}
    step = Lockstep(reader, layers, "cpu")
    seen, resident = [], []

    class Layer(torch.nn.Module):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def forward(self, x):
            return x

    def model():
        net = torch.nn.Module()
        net.model = torch.nn.Module()
        net.model.layers = torch.nn.ModuleList([Layer(k) for k in keys])
        return net

    nets = [model() for _ in range(3)]
    for i, net in enumerate(nets):
        step.attach(net, i, torch.float32)

    def job(i):
        def go():
            for layer in nets[i].model.layers:
                layer(None)
                seen.append((i, layer.key))
                resident.append(len(step._loaded))
        return go

    step.run({i: job(i) for i in range(3)})
    assert sorted(seen) == sorted((i, k) for i in range(3) for k in keys)
    assert max(resident) <= 3 and reader.bytes_read == reader.nbytes({n for names in layers.values() for n in names})
    reader.close()


def test_a_checkpoint_in_an_older_layout_runs_whole_and_is_refused_streamed_in_one_line(tmp_path, capsys):
    # save_pretrained writes Mixtral's experts one by one, as the hub's checkpoints have them; 5.x stacks them on load
    cfg = shrink(transformers.AutoConfig.for_model("mixtral"))
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(tmp_path / "mixtral")
    code, whole = report(capsys, tmp_path / "mixtral", "--dtype", "float32")
    assert code == 0 and whole["match"]
    assert main(["run", str(tmp_path / "mixtral"), "--device", "cpu", "--stream"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "without --stream" in err


def test_a_tensor_the_original_drops_or_leaves_random_is_no_verdict(tmp_path, capsys):
    # the original's loader warns and goes on; a verdict on weights it did not take would say nothing true
    folder = checkpoint(tmp_path / "llama", "llama", shards=2)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shard = index["weight_map"]["model.layers.1.mlp.up_proj.weight"]
    weights = load_file(folder / shard)
    index["weight_map"]["model.layers.0.mlp.stray.weight"] = shard
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    weights["model.layers.0.mlp.stray.weight"] = torch.zeros(2, 2)
    save_file(weights, folder / shard, metadata={"format": "pt"})
    assert main(["run", str(folder), "--device", "cpu", "--dtype", "float32", "--no-kernels"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "stray" in err
    del weights["model.layers.0.mlp.stray.weight"], weights["model.layers.1.mlp.up_proj.weight"]
    del index["weight_map"]["model.layers.0.mlp.stray.weight"], index["weight_map"]["model.layers.1.mlp.up_proj.weight"]
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    save_file(weights, folder / shard, metadata={"format": "pt"})
    assert main(["run", str(folder), "--device", "cpu", "--dtype", "float32", "--no-kernels"]) == 2
    assert "up_proj" in capsys.readouterr().err
