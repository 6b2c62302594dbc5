"""archread diff: the facts that differ from Llama, in three transformers eras, and no false differences."""

import json

import pytest

from archread.cli import main
from archread.diff import diff_models
from archread.parsers import reduce_source, resolve
from archread.parsers.components import rename_prefix

GEMMA = {"embed.scale": "sqrt_hidden", "norm.weight_offset": 1, "mlp.activation": "gelu_tanh"}
EXPECTED = {  # issue 4's list: each must be among the facts that differ from Llama
    "nemotron": {"norm.kind": "layernorm", "norm.weight_offset": 1, "norm.bias": True, "mlp.gated": False,
                 "mlp.activation": "relu2", "pos.rotary_fraction": "partial"},
    "gemma": GEMMA,
    "gemma2": {**GEMMA, "attn.softcap": True, "head.final_softcap": True, "block.norm_placement": "sandwich",
               "attn.sliding_window": "per_layer", "attn.scale": "custom"},
    "phi3": {"attn.fused_qkv": True, "mlp.fused_gate_up": True},
    "qwen2": {"attn.qkv_bias": True},
    "cohere": {"block.residual": "parallel", "norm.kind": "layernorm", "head.logit_scale": True},
    "olmo2": {"block.norm_placement": "post", "attn.qk_norm": True},
    "starcoder2": {"norm.kind": "layernorm", "norm.bias": True, "mlp.gated": False, "mlp.activation": "gelu_tanh",
                   "attn.qkv_bias": True, "mlp.bias": True},
    "gpt_neox": {"block.residual": "parallel", "pos.rotary_fraction": "partial", "norm.kind": "layernorm"},
    "mistral": {"attn.sliding_window": "all"},
}
EXACT = {"mistral", "llama"}  # "mistral: sliding window and nothing else"; llama against itself: nothing


def differing(model, reference):
    d = diff_models(reduce_source(resolve(str(model))), reduce_source(resolve(str(reference))))
    return {f.key: f.model for f in d.differing if not f.key.startswith("precision.")}, d


def check(found: dict, model_type: str):
    want = EXPECTED.get(model_type, {})
    assert {k: found.get(k) for k in want} == want
    if model_type in EXACT:
        assert found == want


@pytest.mark.parametrize("model_type", [*EXPECTED, "llama"])
def test_installed_release(model_type):
    found, _ = differing(model_type, "llama")
    check(found, model_type)


@pytest.mark.corpus
@pytest.mark.parametrize("version", ["4.41.2", "4.48.3"])
def test_older_releases(version, release):
    models = release(version) / "models"
    llama = models / "llama" / "modeling_llama.py"
    for model_type in [*EXPECTED, "llama"]:
        path = models / model_type / f"modeling_{model_type}.py"
        if path.is_file():
            found, _ = differing(path, llama)
            check(found, model_type)


def test_same_math_under_other_names_shows_no_difference(tmp_path):
    src = resolve("llama")
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "modeling_acme.py").write_text(rename_prefix(src.text, "Llama", "Acme"))
    cfg = src.path.with_name("configuration_llama.py")
    (folder / "configuration_acme.py").write_text(rename_prefix(cfg.read_text(), "Llama", "Acme").replace('"llama"', '"acme"'))
    found, d = differing(folder / "modeling_acme.py", "llama")
    assert found == {}
    assert not any(c.changed for c in d.components), [c.part.name for c in d.components if c.changed]


@pytest.mark.corpus
def test_same_model_across_eras_shows_no_difference(release):
    found, _ = differing(release("4.48.3") / "models" / "llama" / "modeling_llama.py", "llama")
    assert found == {}


@pytest.mark.parametrize("fmt,check_output", [
    ("json", lambda s: json.loads(s)["differing"]),
    ("markdown", lambda s: "| `mlp.activation` | relu2 | silu |" in s),
    ("html", lambda s: s.startswith("<!doctype html>") and "<style>" in s and "relu2" in s),
    ("text", lambda s: "mlp.activation" in s and "relu2" in s),
])
def test_formats(fmt, check_output, capsys):
    assert main(["diff", "nemotron", "--format", fmt]) == 0
    assert check_output(capsys.readouterr().out)


@pytest.mark.parametrize("argv,words", [
    (["nemotron", "--against", "nosuchmodel"], "nosuchmodel"),
    (["tests/data/syntax_error.py"], "syntax_error.py"),
    (["nemotron", "--config", "tests/data/bad_config.json"], "not JSON"),
])
def test_bad_input_is_one_line_exit_2(argv, words, capsys):
    assert main(["diff", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_a_checkpoint_configuration_diffs_its_reading(capsys, tmp_path):
    # Llama against itself differs nowhere; read for a llama3-RoPE checkpoint, only its rotary embedding differs
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "rope_parameters": {
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 128}}))
    assert main(["diff", "llama", "--format", "json"]) == 0
    generic = json.loads(capsys.readouterr().out)
    assert main(["diff", "llama", "--config", str(config), "--format", "json"]) == 0
    specialised = json.loads(capsys.readouterr().out)
    changed = lambda report: [c["name"] for c in report["components"] if c["changed"]]  # noqa: E731
    assert changed(generic) == [] and changed(specialised) == ["LlamaRotaryEmbedding"]


def test_a_mixer_class_is_named_a_mixer_not_other():
    from archread.parsers.components import role_of

    assert role_of("NemotronHMamba2Mixer", True) == role_of("JambaMambaMixer", True) == "mixer"
    assert role_of("SomethingElse", True) == "other"
