"""A verdict never lies: NaN is no match, padding is checked, the setup is stated, --config is read as given."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from archread.cli import main
from archread.parsers import reduce_source, resolve
from archread.runtime.report import PADDED, decisive_flips, judge
from archread.runtime.verify import verify

REPOS = Path(__file__).parent / "data" / "remote_repos"


def _tiny_llama_checkpoint(folder: Path, poison: bool) -> Path:
    import transformers

    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2)
    model = transformers.LlamaForCausalLM(cfg)
    if poison:
        with torch.no_grad():
            model.model.layers[1].mlp.down_proj.weight[3, 5] = float("nan")
    model.save_pretrained(folder)
    return folder


def test_a_nan_weight_is_never_a_match(tmp_path):
    report = verify("llama", weights=_tiny_llama_checkpoint(tmp_path / "ckpt", poison=True))
    assert not report.match and "NaN" in report.reason
    assert report.verdict == "NO VERDICT" and report.to_text().splitlines()[-1].startswith("NO VERDICT: ")


def test_run_with_a_nan_weight_is_never_a_match(tmp_path, capsys):
    folder = _tiny_llama_checkpoint(tmp_path / "ckpt", poison=True)
    assert main(["run", str(folder), "--device", "cpu", "--dtype", "float32", "--tokens", "8", "--generate", "0",
                 "--no-kernels", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["match"] is False


def _judge(got_logits, want_logits):
    return judge("m", "ref", "float32", "cpu", [], (got_logits, {}), (want_logits, {}), [], [])


def test_nan_or_inf_on_either_side_is_no_match():
    good = torch.randn(2, 4, 8)
    for bad in (float("nan"), float("inf")):
        broken = good.clone()
        broken[0, 1, 2] = bad
        assert not _judge(broken, good).match
        assert not _judge(good, broken).match
        assert "original" in _judge(good, broken).reason
        assert (_judge(broken, good).verdict, _judge(good, broken).verdict) == ("MISMATCH", "NO VERDICT")
    assert _judge(good, good.clone()).match


def test_a_decisive_top1_flip_fails_a_near_tie_does_not():
    want = torch.tensor([[[1.0, 0.0, 0.5]]])
    assert decisive_flips(torch.tensor([[[0.0, 1.0, 0.5]]]), want, 2e-5) == 1
    tie = torch.tensor([[[1.0, 1.0 - 1e-6, 0.0]]])
    assert decisive_flips(torch.tensor([[[1.0 - 1e-6, 1.0, 0.0]]]), tie, 2e-5) == 0


def test_shapes_that_differ_are_no_match():
    assert not _judge(torch.zeros(2, 4, 8), torch.zeros(2, 4, 9)).match


@pytest.mark.parametrize("model", ["llama", "gemma2", "qwen2", "mixtral"])  # gemma2: window 8 < 16 tokens
def test_padded_batches_give_the_originals_logits_on_the_real_tokens(model):
    report = verify(model)
    assert report.padded is not None and report.padded.name == PADDED
    assert report.padded.max_abs <= 1e-5 and report.match, report.to_text()
    assert "left-padded" in report.setup["padding"] and report.setup["seq_len"] == 16
    assert report.setup["config"]["hidden_size"] == 64  # the shrunk sizes it ran at


def test_a_reading_that_ignores_padding_is_caught_on_the_padded_batch():
    reduction = reduce_source(resolve("llama"))
    call = "attention_mask=attention_mask, position_ids=position_ids"
    assert call in reduction.code
    broken = dataclasses.replace(reduction, code=reduction.code.replace(call, "attention_mask=None, position_ids=position_ids"))
    report = verify("llama", reduction=broken)
    assert not report.match and report.first_divergent == PADDED
    assert report.logits.max_abs <= 1e-5  # the unpadded batch alone would have said MATCH


def test_the_report_states_its_setup(capsys):
    assert main(["verify", "qwen2", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["setup"]["seed"] == 0 and report["setup"]["batch"] == 2
    assert report["setup"]["tolerance"]["max_abs"] == 1e-5 and report["padded"]["name"] == PADDED


def test_reduce_config_reads_the_checkpoints_own_window_and_rope_scaling(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "phi3", "sliding_window": 2047, "max_position_embeddings": 131072,
                                "original_max_position_embeddings": 4096,
                                "rope_scaling": {"type": "longrope", "short_factor": [1.0] * 48, "long_factor": [2.0] * 48}}))
    assert main(["reduce", "phi3", "--config", str(path)]) == 0
    head = capsys.readouterr().out.split("\nimport", 1)[0]
    assert "sliding_window=2047" in head and "longrope" in head


def test_verify_config_with_a_window_and_rope_scaling(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mistral", "sliding_window": 6,
                                "rope_scaling": {"rope_type": "linear", "factor": 2.0}}))
    report = verify("mistral", config=path)
    assert report.match, report.to_text()
    assert report.setup["config"]["sliding_window"] == 6


def test_remote_code_runs_as_its_authors_ran_it():
    report = verify(REPOS / "rc_llama", trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert "remote code" in report.reference and "RcLlamaForCausalLM" in report.reference


@pytest.mark.corpus
def test_remote_code_runs_under_the_release_its_config_names(tmp_path):
    repo = shutil.copytree(REPOS / "rc_llama", tmp_path / "rc_llama")
    config = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**config, "transformers_version": "4.48.3"}))
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()
    assert "transformers 4.48.3" in report.reference and report.padded is not None


def test_remote_code_needs_trust(capsys):
    assert main(["verify", str(REPOS / "rc_llama")]) == 2
    assert "--trust-code" in capsys.readouterr().err


def test_a_release_that_cannot_be_installed_is_one_line(tmp_path, capsys):
    repo = shutil.copytree(REPOS / "rc_llama", tmp_path / "rc_llama")
    config = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**config, "transformers_version": "0.0.0"}))
    assert main(["verify", str(repo), "--trust-code"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot install transformers 0.0.0" in err


_ZERO_ROUNDING = '''"""A ternary quantiser with no scale: 0.02-scale weights round to zero rows, normalised by their zero norm."""

import torch
from torch import nn
import torch.nn.functional as F


class TernaryLinear(nn.Linear):
    def forward(self, x):
        w = self.weight + (self.weight.clamp(-1, 1).round() - self.weight).detach()
        return F.linear(x, w / torch.norm(w, dim=1, keepdim=True), self.bias)
'''


def test_random_weights_the_originals_own_init_makes_nan_are_drawn_again_and_the_report_says_so(tmp_path):
    repo = shutil.copytree(REPOS / "rc_flat", tmp_path / "rc_flat")
    (repo / "rc_flat_quant.py").write_text(_ZERO_ROUNDING)
    report = verify(repo, trust_code=True)
    assert report.match and "unit scale" in report.setup["weights"], report.to_text()
    assert "unit scale" in report.to_text()


def test_given_weights_that_make_nan_are_never_drawn_again(tmp_path):
    report = verify("llama", weights=_tiny_llama_checkpoint(tmp_path / "ckpt", poison=True))
    assert report.verdict == "NO VERDICT" and "weights" not in report.setup


def test_a_parameter_its_own_init_reshaped_loads_in_the_declared_shape_only_across_size_one_dimensions():
    from archread.runtime.weights import as_declared

    model = torch.nn.Module()
    model.decay = torch.nn.Parameter(torch.zeros(1, 1, 4))
    model.mix = torch.nn.Parameter(torch.zeros(1, 4))
    state = as_declared(model, {"decay": torch.arange(4.0).reshape(1, 4), "mix": torch.zeros(2, 2)})
    assert state["decay"].shape == (1, 1, 4) and state["decay"].flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert state["mix"].shape == (2, 2)  # another shape of its values: left for the load to refuse


def test_a_forward_that_takes_images_before_the_token_ids_is_said_to():
    from archread.runtime.test_input import needs_more_than_tokens

    class Vlm(torch.nn.Module):
        def forward(self, pixel_values, input_ids=None, image_flags=None):
            return input_ids

    class Lm(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            return input_ids

    assert "pixel_values before input_ids" in needs_more_than_tokens(Vlm())
    assert needs_more_than_tokens(Lm()) is None
