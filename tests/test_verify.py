"""The reduced model is the original: same logits in float32 on the CPU, and a broken reading is caught."""

import dataclasses
import json

import pytest

from archread.cli import main
from archread.parsers import reduce_source, resolve
from archread.runtime.verify import verify


@pytest.mark.parametrize("model", ["llama", "mistral", "qwen2", "gemma", "phi3", "nemotron", "gemma2", "olmo2",
                                   "starcoder2", "cohere", "qwen3", "granite",
                                   "deepseek_v2", "gemma4", "opt"])  # MLA + MoE sizes; KV sharing; submodule chains
def test_reduced_matches_original(model):
    report = verify(model)
    assert report.match, report.to_text()
    assert report.logits.max_abs <= 1e-5 and report.top1_agree == 1.0
    assert len(report.layers) >= 3


def test_dropping_an_equation_is_caught_and_located():
    reduction = reduce_source(resolve("gemma"))
    scale = "super().forward(input_ids) * self.embed_scale.to(self.weight.dtype)"  # Gemma's sqrt(hidden) scale
    assert scale in reduction.code
    broken = dataclasses.replace(reduction, code=reduction.code.replace(scale, "super().forward(input_ids)"))
    report = verify("gemma", reduction=broken)
    assert not report.match
    assert report.first_divergent == "model.embed_tokens"
    assert "model.embed_tokens" in report.to_text() and "MISMATCH" in report.to_text()


def test_verify_json_report(capsys):
    assert main(["verify", "nemotron", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["match"] is True and report["logits"]["top1_agree"] == 1.0
    assert {"name", "max_abs", "rel_l2"} <= set(report["layers"][0])


def test_weights_with_wrong_keys_are_named(tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    verify("llama")  # builds fine
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128}))
    save_file({"model.bogus.weight": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    code = main(["verify", "llama", "--weights", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1


def test_cuda_without_gpu_says_so(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["verify", "llama", "--device", "cuda"]) == 2
    assert "--device cpu" in capsys.readouterr().err


OLDER = {  # a sample of each older era; its originals run under that release, in a subprocess
    "4.52.4": ["llama", "qwen2", "qwen3",  # a window size kept while `use_sliding_window` is False
               "biogpt", "gemma2"],  # `isinstance(None, EncoderDecoderCache)` once the cache is knocked out
    "4.48.3": ["llama", "mistral", "qwen2", "phi3", "nemotron", "gemma", "starcoder2", "cohere", "olmo2", "mixtral",
               "gemma2"],  # its layers slice their window with cache_position
    "4.41.2": ["llama", "gemma", "starcoder2", "cohere", "olmo", "stablelm", "persimmon", "mixtral", "phi", "phi3",
               "mistral", "gpt_neox"],  # a window of W + 1 keys; a keyword argument that computes
}


@pytest.mark.corpus
@pytest.mark.parametrize("version", OLDER)
def test_older_release_originals_run_under_their_release(version, release):
    for model_type in OLDER[version]:
        report = verify(release(version) / "models" / model_type / f"modeling_{model_type}.py")
        assert report.match, f"{model_type} {version}: {report.first_divergent}"
        assert "subprocess" in report.reference and report.logits.max_abs <= 1e-5


def test_another_releases_configuration_answers_get_text_config():
    # 4.57.6 blt builds its decoder from config.get_text_config(): the view of that release's config must answer
    from archread.runtime.verify_release import ConfigView

    flat = ConfigView(hidden_size=4)
    assert flat.get_text_config() is flat
    composite = ConfigView(hidden_size=4, text_config={"hidden_size": 8})
    assert composite.get_text_config().hidden_size == 8
    assert composite.get_text_config(decoder=True).hidden_size == 8
    with pytest.raises(ValueError):
        ConfigView(decoder={"a": 1}, text_config={"a": 2}).get_text_config()


def test_another_releases_per_layer_configuration_answers_by_index_and_type():
    # 5.25 Gemma4 reads config.per_layer_config[layer_idx]; the saved config holds only the overrides
    from archread.runtime.verify_release import ConfigView

    cfg = ConfigView(num_hidden_layers=3, head_dim=8, layer_types=["sliding", "sliding", "full"],
                     per_layer_config={"2": {"head_dim": 32}})
    assert [c.head_dim for c in cfg.per_layer_config] == [8, 8, 32] and cfg.head_dim == 8
    assert cfg.per_layer_config["full"].head_dim == 32 and cfg.per_layer_config[-1].skip == []
    assert "per_layer_config" not in cfg.to_dict()
    with pytest.raises(IndexError):
        cfg.per_layer_config[3]


def test_a_release_whose_pins_cannot_resolve_brings_only_its_hub_and_tokenizers(tmp_path):
    # 5.25.0 pins a `kernels` release the registry lacks: it is installed alone, with the pins it has on these two
    from archread.runtime.release import _pins

    info = tmp_path / "transformers-9.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Name: transformers\nRequires-Dist: huggingface-hub<3.0,>=2.4.0\nRequires-Dist: numpy>=1.17\n"
        "Requires-Dist: tokenizers<0.24.0,>=0.23.1\nRequires-Dist: kernels<0.20,>=0.19.1\n"
        "Requires-Dist: tokenizers>=0.1; extra == \"dev\"\n")
    assert _pins(tmp_path, "9.1.0") == ["huggingface-hub<3.0,>=2.4.0", "tokenizers<0.24.0,>=0.23.1"]
