"""`reduce --config`: the branches a checkpoint's configuration decides fold, and that reading still verifies."""

import json
from pathlib import Path

import pytest

from archread.cli import main

DATA = Path(__file__).parent / "data"
TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 256}
LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 128}


def _config(tmp_path, **extra):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, **extra}))
    return path


def _reduce(capsys, *argv):
    code = main(["reduce", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assumed(out: str) -> str:
    """The `# assumes …` lines a folded reading opens with."""
    return "".join(line for line in out.splitlines(keepends=True) if line.startswith("#"))


def test_the_default_rope_leaves_no_dispatch(capsys, tmp_path):
    # 5.x builds rope_parameters in the framework, of the class's default type: both readings fold the dispatch
    _, default, _ = _reduce(capsys, "llama")
    code, out, _ = _reduce(capsys, "llama", "--config", str(_config(tmp_path)))
    assert code == 0
    compile(out, "reduced", "exec")
    for reading in (default, out):
        assert "ROPE_INIT_FUNCTIONS" not in reading and "rope_type" not in reading.removeprefix(_assumed(reading))
        assert _assumed(reading) == "# assumes rope_parameters['rope_type']='default'\n"
    assert "nn.Linear(config.hidden_size" in out  # sizes stay names: only decisions are specialised


def test_a_llama3_rope_keeps_its_initialiser(capsys, tmp_path):
    code, out, _ = _reduce(capsys, "llama", "--config", str(_config(tmp_path, rope_parameters=LLAMA3_ROPE)))
    assert code == 0
    assert "ROPE_INIT_FUNCTIONS[self.rope_type](" in out and 'if self.rope_type != "default"' not in out


@pytest.mark.parametrize("rope", [None, LLAMA3_ROPE])
def test_the_specialised_reading_verifies(capsys, tmp_path, rope):
    extra = {"rope_parameters": rope} if rope else {}
    assert main(["verify", "llama", "--config", str(_config(tmp_path, **extra)), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["match"] is True and report["logits"]["max_abs"] <= 1e-5


def test_a_configuration_of_another_model_is_refused(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma"}))
    code, out, err = _reduce(capsys, "llama", "--config", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "config is for gemma" in err


def test_remote_code_configuration_is_read_not_run(capsys, tmp_path):
    # its configuration class lives in the repo's configuration_foo.py: running it would execute that file
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "modeling_foo.py").write_text((DATA / "remote_foo" / "modeling_foo.py").read_text())
    marker = tmp_path / "executed"
    (folder / "configuration_foo.py").write_text(f"open({str(marker)!r}, 'w')\n\n\nclass FooConfig:\n    model_type = 'foo'\n")
    (folder / "config.json").write_text(json.dumps({"model_type": "foo", "hidden_size": 96}))
    code, out, err = _reduce(capsys, str(folder), "--config", str(folder))
    assert code == 0 and "class " in out, err
    assert not marker.exists()


@pytest.mark.corpus
def test_an_older_release_reads_the_configuration_with_its_own_class(capsys, tmp_path, release):
    # 4.41.2 Llama picks a rotary class from config.rope_scaling, a field its own LlamaConfig keeps (default None)
    path = str(release("4.41.2") / "models" / "llama" / "modeling_llama.py")
    _, default, _ = _reduce(capsys, path)
    code, out, _ = _reduce(capsys, path, "--config", str(_config(tmp_path, rope_scaling={"type": "linear", "factor": 2.0})))
    assert code == 0
    assert _assumed(default) == "# assumes rope_scaling=None\n" and "Scaling" not in default
    assert "LlamaLinearScalingRotaryEmbedding(" in out
    assert _assumed(out) == "# assumes rope_scaling['type']='linear'\n"


def test_a_reading_is_read_again_for_a_configuration_it_does_not_assume():
    # Mistral's default configuration slides a 4096 window; a checkpoint without one gets its own reading
    from transformers import MistralConfig

    from archread.parsers import reduce_source, resolve
    from archread.runtime.build import for_config

    default = reduce_source(resolve("mistral"))
    assert default.assumed == {"rope_parameters['rope_type']": "default", "sliding_window": 4096}
    assert default.code.startswith("# assumes rope_parameters['rope_type']='default', sliding_window=4096\n")
    assert for_config(default, MistralConfig()) is default
    full = for_config(default, MistralConfig(sliding_window=None))
    assert full.assumed["sliding_window"] is None and "create_sliding_window_causal_mask" not in full.code


def test_a_field_that_differs_between_sections_is_not_one_value(tmp_path):
    # a multimodal file's text model reads config.vocab_size from its text section, not the top level
    from archread.runtime.config_values import read_values

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma3", "vocab_size": 5,
                                "text_config": {"model_type": "gemma3_text", "vocab_size": 100}}))
    values = read_values("gemma3", path)
    assert "vocab_size" not in values and "mm_tokens_per_image" in values  # a top-level field stays


def test_a_default_reading_names_every_value_a_fold_rests_on(tmp_path):
    # a choice stored under a branch the defaults decide (`self.kind`) rests on the field that decided it;
    # a default size (`num_experts > 1`) decides nothing
    from archread.parsers import reduce_source, resolve

    (tmp_path / "configuration_toy.py").write_text(
        "class ToyConfig(PretrainedConfig):\n    model_type = 'toy'\n\n"
        "    def __init__(self, hidden_size=8, use_gate=True, num_experts=4, **kwargs):\n"
        "        self.hidden_size = hidden_size\n        self.use_gate = use_gate\n        self.num_experts = num_experts\n")
    (tmp_path / "modeling_toy.py").write_text(
        "from torch import nn\n\n\nclass ToyMLP(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        if config.use_gate:\n            self.kind = 'gated'\n        else:\n            self.kind = 'plain'\n"
        "        self.up = nn.Linear(config.hidden_size, config.hidden_size)\n        if config.num_experts > 1:\n"
        "            self.router = nn.Linear(config.hidden_size, config.num_experts)\n\n"
        "    def forward(self, x):\n        if self.kind == 'gated':\n            return self.up(x) * x\n        return self.up(x)\n\n\n"
        "class ToyForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.mlp = ToyMLP(config)\n\n"
        "    def forward(self, x):\n        return self.mlp(x)\n")
    reading = reduce_source(resolve(tmp_path / "modeling_toy.py"))
    assert reading.assumed == {"use_gate": True}
    assert "        return self.up(x) * x\n\n" in reading.code and "plain" not in reading.code  # nothing after the return
    assert "if config.num_experts > 1:" in reading.code


def test_a_field_filled_in_where_none_reads_as_its_filling(tmp_path):
    """`if self.x is None: self.x = {...}` in a configuration method: the default configuration holds the filling;
    a filling under any other test, or a second one, leaves the field unknown."""
    from archread.parsers.config_defaults import default_values

    (tmp_path / "configuration_toy.py").write_text(
        "class ToyConfig(PretrainedConfig):\n    model_type = 'toy'\n    rope_parameters: dict | None = None\n"
        "    mode: str | None = None\n    kind: str | None = None\n\n    def __post_init__(self, **kwargs):\n"
        "        if self.rope_parameters is None:\n            self.rope_parameters = {'rope_type': 'llama3', 'factor': 8.0}\n"
        "        if self.mode is None:\n            self.mode = 'fast'\n        if self.kind == 'a':\n            self.kind = 'b'\n")
    (tmp_path / "modeling_toy.py").write_text("class ToyModel:\n    pass\n")
    values, _ = default_values(tmp_path / "modeling_toy.py")
    assert values["rope_parameters"] == {"rope_type": "llama3"} and values["mode"] == "fast" and "kind" not in values


def test_a_field_only_the_repos_config_json_sets_is_read_from_it(tmp_path):
    """Remote configuration classes pass unknown fields through **kwargs: the checkpoint's value is the only
    one there is, so a branch it rules out goes (Yuan's `use_flash_attention`); declared fields keep their default."""
    import json
    import shutil

    from archread.parsers import reduce_source, resolve

    repo = shutil.copytree(Path(__file__).parent / "data" / "remote_repos" / "rc_llama", tmp_path / "rc_llama")
    config = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**config, "use_fused_block": False}))
    modeling = repo / "modeling_rc_llama.py"
    modeling.write_text(modeling.read_text().replace(
        "        x = x + self.attn(self.attn_norm(x), mask)\n",
        "        if self.config.use_fused_block:\n            return fused_block(x, mask)\n"
        "        x = x + self.attn(self.attn_norm(x), mask)\n").replace(
        "        self.mlp = RcMLP(config)\n", "        self.mlp = RcMLP(config)\n        self.config = config\n"))
    reduction = reduce_source(resolve(repo))
    assert "fused_block(" not in reduction.code and reduction.assumed.get("use_fused_block") is False, reduction.code
    assert any("use_fused_block=False" in w for w in reduction.warnings)
