"""archread's own remote-code repos (tests/data/remote_repos) verify as their authors would run them: each its own
way of naming files, roots and configuration fields; four under the older release their config.json names."""

import ast
import json
from pathlib import Path

import pytest

from archread.parsers import lender_tree, reduce_source, resolve
from archread.parsers.source import release_of, tree_of
from archread.parsers.undefined import undefined_names
from archread.runtime.original import installed_release
from archread.runtime.verify import verify

REPOS = Path(__file__).parent / "data" / "remote_repos"
ALL = sorted(p.name for p in REPOS.iterdir() if (p / "config.json").is_file())
ALLOWED_IMPORTS = {"torch", "math", "archread.prelude"}


def _release(repo: str) -> str | None:
    return json.loads((REPOS / repo / "config.json").read_text()).get("transformers_version")


def test_there_are_five_repos_one_of_an_older_release():
    assert len(ALL) >= 5 and any(_release(r) for r in ALL)


@pytest.mark.parametrize("repo", ALL)
def test_reduces_to_a_module_that_stands_alone(repo):
    reduction = reduce_source(resolve(REPOS / repo))
    tree = ast.parse(reduction.code)
    imported = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert {m for m in imported if m.split(".")[0] not in {"torch", "math"}} <= ALLOWED_IMPORTS, reduction.code
    assert undefined_names(reduction.code) == [], reduction.code


@pytest.mark.parametrize("repo", [r for r in ALL if not _release(r)])
def test_verifies_under_the_installed_release(repo):
    report = verify(REPOS / repo, trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert "remote code" in report.reference


@pytest.mark.corpus
@pytest.mark.parametrize("repo", [r for r in ALL if _release(r)])
def test_verifies_under_the_release_its_config_names(repo):
    report = verify(REPOS / repo, trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert f"transformers {_release(repo)}, subprocess" in report.reference, report.reference


SELF_NAMED = REPOS / "rc_selfname"  # imports itself as `rcself_model`, no config.json, two classes over the LM logits


def test_a_repo_that_imports_itself_by_its_checkouts_name_verifies_with_the_root_chosen():
    report = verify(SELF_NAMED, trust_code=True, root="RcSelfForConditionalGeneration")
    assert report.match and report.padded is not None, report.to_text()
    assert "RcSelfForConditionalGeneration (remote code" in report.reference


def test_two_roots_the_code_cannot_tell_apart_are_named_with_the_option_to_choose(capsys):
    from archread.cli import main

    assert main(["verify", str(SELF_NAMED), "--trust-code"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "two candidate root classes (RcSelfForConditionalGeneration, RcSelfForChoice)" in err and "--root NAME" in err
    assert main(["reduce", str(SELF_NAMED), "--root", "RcSelfNothing"]) == 2
    assert "defines no class RcSelfNothing (--root)" in capsys.readouterr().err


def test_the_chosen_root_is_the_one_reading_kept():
    reduction = reduce_source(resolve(SELF_NAMED, "RcSelfForConditionalGeneration"))
    assert reduction.roots == ["RcSelfForConditionalGeneration"] and "class RcSelfForChoice" not in reduction.code


def test_a_model_that_returns_no_logits_is_said_to_not_an_attribute_error():
    # GLM's default `output_predict=False`: `logits=None` in its output
    import torch

    from archread.errors import ArchreadError
    from archread.runtime.compare import run_with_taps

    class NoHead(torch.nn.Module):
        def forward(self, input_ids):
            return {"logits": None}

    with pytest.raises(ArchreadError, match="returns no logits with this configuration"):
        run_with_taps(NoHead(), torch.zeros(1, 4, dtype=torch.long), [])


CUDA_PATH = REPOS / "rc_cudapath"  # config.json's packed_bits=8 takes a GPU-only layer; the default 32 is nn.Linear


def test_the_torch_path_is_the_default_of_the_fields_the_code_tests_that_the_checkpoint_changed():
    from archread.runtime.cuda_paths import torch_path_values

    fields = json.loads((CUDA_PATH / "config.json").read_text())
    modeling = CUDA_PATH / "modeling_rccuda.py"
    assert torch_path_values(modeling, fields) == {"packed_bits": 32}  # hidden_size differs too, but no test reads it
    assert torch_path_values(modeling, {**fields, "packed_bits": 32}) == {}


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a machine without CUDA is what this reads")
def test_torchs_refusal_to_reach_cuda_is_recognised():
    import torch

    from archread.runtime.cuda_paths import asks_for_cuda

    with pytest.raises(Exception) as refused:
        torch.empty(2, device="cuda")
    assert asks_for_cuda(refused.value)
    assert not asks_for_cuda(ValueError("0 is not in list"))


@pytest.mark.corpus
def test_an_original_whose_checkpoint_chose_a_cuda_path_runs_on_the_torch_path_and_says_so():
    report = verify(CUDA_PATH, trust_code=True)
    assert report.match, report.to_text()
    assert "config.json's packed_bits=8 → 32: the checkpoint's choice needs CUDA" in report.reference


def test_a_branch_that_demands_absent_kernels_is_not_the_reading_and_not_the_originals():
    # rc_hybrid's conv asks for a fused kernel by default (use_fast_kernels=True) and raises without it: the reading
    # takes the torch branch, and verify runs the original with the flag that takes it too
    reduction = reduce_source(resolve(REPOS / "rc_hybrid"))
    assert reduction.torch_path == {"use_fast_kernels": False}
    assert "fused_gated_conv" not in reduction.code and reduction.code.startswith("# assumes use_fast_kernels=False")


LENT = REPOS / "rc_lent"  # subclasses transformers' GemmaMLP, which 4.41.2 and 5.x write with different activations


@pytest.mark.corpus
def test_transformers_classes_the_code_subclasses_are_read_from_the_release_its_config_names(release):
    release("4.41.2")
    reduction = reduce_source(resolve(LENT))
    read = {release_of(Path(p)) for p in reduction.lenders if tree_of(Path(p)) is not None}
    assert read == {"4.41.2"} and reduction.warnings == [], (read, reduction.warnings)
    assert "gelu_pytorch_tanh" in reduction.code  # 4.41.2's GemmaMLP, not 5.x's `ACT2FN[config.hidden_act]`


def test_without_that_releases_source_the_installed_classes_are_read_and_the_reduction_says_so(monkeypatch):
    monkeypatch.setattr(lender_tree, "release_source", lambda version: None)
    reduction = reduce_source(resolve(LENT))
    read = {release_of(Path(p)) for p in reduction.lenders if tree_of(Path(p)) is not None}
    assert read == {installed_release()}, read
    assert any(f"read from transformers {installed_release()}" in w and "4.41.2, the release its config.json names" in w
               for w in reduction.warnings), reduction.warnings


def test_a_development_build_named_by_config_json_is_run_as_the_release_it_became():
    from archread.parsers.lender_tree import release_named

    assert release_named("4.30.0.dev0") == "4.30.0" and release_named("4.38.0rc1") == "4.38.0"
    assert release_named("4.41.2") == "4.41.2"
    assert release_named("main") is None and release_named(None) is None


def test_a_star_import_of_a_transformers_modeling_file_lends_the_names_the_code_reads(tmp_path):
    import shutil

    repo = shutil.copytree(REPOS / "rc_wrap", tmp_path / "rc_wrap")
    modeling = repo / "modeling_rc_wrap.py"
    modeling.write_text(modeling.read_text().replace(
        "from transformers import LlamaForCausalLM, LlamaPreTrainedModel",
        "from transformers.models.llama.modeling_llama import *"))
    reduction = reduce_source(resolve(repo))
    assert "class LlamaForCausalLM(" in reduction.code and undefined_names(reduction.code) == [], reduction.code
    assert verify(repo, trust_code=True).match


def test_widths_the_shrinking_breaks_a_relation_of_get_a_second_try_at_their_own_size_with_few_layers(tmp_path):
    """Evo asserts `hidden_size % num_filters == 0` with num_filters a field the shrinking does not know: under the
    installed release too, the original is built at its own widths with two layers."""
    import shutil

    repo = shutil.copytree(REPOS / "rc_llama", tmp_path / "rc_llama")
    config = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**config, "hidden_size": 128, "filter_span": 128, "num_hidden_layers": 4}))
    modeling = repo / "modeling_rc_llama.py"
    modeling.write_text(modeling.read_text().replace(
        "        self.attn_norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)\n",
        "        assert config.hidden_size % config.filter_span == 0 and config.filter_span <= config.hidden_size\n"
        "        self.attn_norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)\n", 1))
    report = verify(repo, trust_code=True)
    assert report.match and report.setup["config"]["hidden_size"] == 128, report.to_text()
    assert report.setup["config"]["num_hidden_layers"] == 2
