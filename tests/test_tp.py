"""archread run --tp 2 on the CPU (gloo, 2 spawned ranks): the sharded check gives the single-process
verdict and logits; what cannot be sharded is refused in one line before any rank starts."""

import pytest
import torch
import transformers
from safetensors.torch import save_file

from archread.cli import main
from archread.runtime import tp
from archread.runtime.run import run
from archread.runtime.tiny import shrink


def checkpoint(folder, model_type):
    """A tiny random checkpoint, saved as the 5.x classes name their weights (stacked experts for MoE)."""
    cfg = shrink(transformers.AutoConfig.for_model(model_type))
    cfg.num_key_value_heads = 2  # grouped-query: each rank holds one key/value head of two
    assert cfg.num_attention_heads == 4
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    cfg.save_pretrained(folder)
    save_file({k: v.clone() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    return folder


def _run(folder, ranks):
    return run(str(folder), device="cpu", dtype="float32", seq=24, new_tokens=0, kernels=False, tp=ranks,
               keep_logits=True)


@pytest.mark.parametrize("model_type,sharded", [
    ("llama", {"model.layers.*.self_attn.k_proj": "colwise", "model.layers.*.mlp.down_proj": "rowwise"}),
    ("gemma2", {"model.layers.*.self_attn.o_proj": "rowwise", "model.embed_tokens": "vocab"}),
    ("mixtral", {"model.layers.*.mlp.experts": "experts", "lm_head": "head"}),
])
def test_tp2_matches_and_gives_the_single_process_logits(model_type, sharded, tmp_path):
    folder = checkpoint(tmp_path / model_type, model_type)
    single, split = _run(folder, 1), _run(folder, 2)
    assert split.parallel["ranks"] == 2 and split.parallel["backend"] == "gloo"
    assert sharded.items() <= split.parallel["sharded"].items()
    assert split.verify.match and single.verify.match
    assert split.logits.shape == single.logits.shape
    assert (split.logits - single.logits).abs().max().item() <= 1e-5


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return checkpoint(tmp_path_factory.mktemp("tp") / "llama", "llama")


def test_tp_not_dividing_the_heads_is_one_line(llama, capsys):
    assert main(["run", str(llama), "--device", "cpu", "--tp", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not divide the 4 attention heads" in err


def test_more_ranks_than_devices_is_one_line(llama, monkeypatch, capsys):
    monkeypatch.setattr(tp, "devices", lambda device: 1)
    assert main(["run", str(llama), "--device", "cpu", "--tp", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more ranks than devices" in err


def test_tp_does_not_combine_with_stream(llama, capsys):
    assert main(["run", str(llama), "--device", "cpu", "--tp", "2", "--stream"]) == 2
    assert "does not combine" in capsys.readouterr().err
