"""archread lint: every problem planted in samples/configs is flagged, the clean one is silent."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from archread.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "configs"
PLANTED = {"pad_is_eos": "pad-is-eos", "window_off_by_one": "window-off-by-one",
           "activation_conflict": "activation-conflict", "head_dim_indivisible": "head-dim-indivisible",
           "gqa_indivisible": "gqa-indivisible", "rope_scaling_idle": "rope-scaling-idle"}


def lint_json(capsys, *argv):
    code = main(["lint", *map(str, argv), "--format", "json"])
    return code, [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]


@pytest.mark.parametrize("name,finding", PLANTED.items())
def test_each_planted_problem_is_flagged(name, finding, capsys):
    code, found = lint_json(capsys, SAMPLES / f"{name}.json")
    assert found == [finding] and code == 1


def test_clean_config_is_silent(capsys):
    assert lint_json(capsys, SAMPLES / "clean.json") == (0, [])


def test_every_sample_is_covered():
    assert {p.stem for p in SAMPLES.glob("*.json")} == {*PLANTED, "clean"}


@pytest.fixture
def checkpoint(tmp_path):
    cfg = json.loads((SAMPLES / "clean.json").read_text())
    cfg.update(vocab_size=64, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
               tie_word_embeddings=False)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    embed = torch.randn(64, 32)
    embed[[3, 17, 40]] = 0.0  # untrained reserved tokens
    bad = torch.randn(32, 32)
    bad[0, 0] = float("nan")
    save_file({"model.embed_tokens.weight": embed, "model.layers.0.self_attn.qkv_proj.weight": bad}, tmp_path / "model.safetensors")
    return tmp_path


def test_weights_find_planted_rows_nan_fused_and_missing_head(checkpoint, capsys):
    code, found = lint_json(capsys, checkpoint, "--weights")
    assert code == 1
    assert set(found) == {"untrained-rows", "non-finite", "fused-tensors", "untied-no-head"}
    main(["lint", str(checkpoint), "--weights"])
    assert "ids 3, 17, 40" in capsys.readouterr().out


def test_weights_tied_but_head_present(checkpoint, capsys):
    cfg = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**cfg, "tie_word_embeddings": True}))
    save_file({"model.embed_tokens.weight": torch.randn(64, 32), "lm_head.weight": torch.randn(64, 32)},
              checkpoint / "model.safetensors")
    assert lint_json(capsys, checkpoint, "--weights")[1] == ["tied-but-head"]


@pytest.mark.parametrize("content,words", [('{"hidden_size": 1,', "not JSON"), ("[1, 2]", "not a model configuration")])
def test_bad_config_is_one_line_exit_2(tmp_path, content, words, capsys):
    (tmp_path / "config.json").write_text(content)
    assert main(["lint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_missing_config_is_one_line_exit_2(tmp_path, capsys):
    assert main(["lint", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_a_folder_of_configs_and_several_files_are_each_linted(capsys):
    code = main(["lint", str(SAMPLES), "--format", "json"])
    reports = json.loads(capsys.readouterr().out)
    found = {Path(r["config"]).stem: [f["code"] for f in r["findings"]] for r in reports}
    assert found == {**{name: [finding] for name, finding in PLANTED.items()}, "clean": []} and code == 1
    assert main(["lint", str(SAMPLES / "clean.json"), str(SAMPLES / "pad_is_eos.json")]) == 1
    out = capsys.readouterr().out
    assert "clean.json: 0 findings" in out and "pad_is_eos.json: 1 finding\n" in out and "pad-is-eos" in out


def test_one_bad_config_among_several_is_a_line_and_exit_2_the_rest_still_linted(tmp_path, capsys):
    (tmp_path / "broken.json").write_text('{"hidden_size": 1,')
    assert main(["lint", str(tmp_path / "broken.json"), str(SAMPLES / "pad_is_eos.json")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "broken.json: not JSON" in captured.err
    assert "pad-is-eos" in captured.out
