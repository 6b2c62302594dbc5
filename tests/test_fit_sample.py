"""archread fit end to end on a sample of architectures (the whole corpus: benchmarks/fit_corpus.py): random
weights saved by the original classes, config.json removed, ranked against the sample's signatures; the same
with every role renamed at random, matched by structure and loaded strict; `-o` writes a folder whose config
and reduced modeling file take the checkpoint."""

import importlib
import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from archread.cli import main
from archread.fit import catalogue
from archread.fit.confirm import loads_strict
from archread.fit.headers import read_headers
from archread.fit.rank import fit
from archread.fit.samples import original_checkpoint, renamed_checkpoint

# dense with GQA, learned positions and fused qkv, a fused expert bank, per-expert saved tensors, sliding windows
SAMPLE = ("llama", "gpt2", "mixtral", "qwen3_moe", "gemma2", "falcon")


@pytest.fixture(scope="module")
def entries():
    found = [e for e in catalogue.ensure(only=set(SAMPLE)) if "error" not in e]
    assert {e["model_type"] for e in found} == set(SAMPLE)
    return found


@pytest.fixture(scope="module")
def checkpoints(entries, tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    return {e["model_type"]: original_checkpoint(e, root / e["model_type"]) for e in entries}


@pytest.fixture
def sample_only(entries, monkeypatch):
    monkeypatch.setattr(catalogue, "load", lambda progress=None: entries)


@pytest.mark.parametrize("model_type", SAMPLE)
def test_the_right_architecture_ranks_first(model_type, checkpoints, sample_only):
    report = fit(checkpoints[model_type], top=3)
    assert not report.by_structure
    best = report.candidates[0]
    assert best.model_type == model_type and best.score == 1.0 and not best.mismatched


@pytest.mark.parametrize("model_type", SAMPLE)
def test_renamed_tensors_are_matched_by_structure_and_load_strict(model_type, checkpoints, sample_only, tmp_path):
    mapping = renamed_checkpoint(checkpoints[model_type], tmp_path, seed=3)
    assert not set(mapping) & set(mapping.values())  # no name survived the renaming
    report = fit(tmp_path, top=3)
    assert report.by_structure and report.candidates[0].model_type == model_type
    assert loads_strict(report.candidates[0], read_headers(tmp_path).shapes)


def test_output_folder_builds_the_reduced_model_that_takes_the_checkpoint(checkpoints, sample_only, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["fit", str(checkpoints["llama"]), "-o", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["candidates"][0]["model_type"] == "llama"
    config = json.loads((out / "config.json").read_text())
    facts = json.loads((out / "facts_to_check.json").read_text())
    assert config["model_type"] == "llama" and "rms_norm_eps" in facts["not_told_by_shapes"]
    assert set(json.loads((out / "renaming.json").read_text())) == set(read_headers(checkpoints["llama"]).shapes)
    sys.path.insert(0, str(out))
    try:
        module = importlib.import_module("modeling_llama_fit_out")
    except ModuleNotFoundError:
        spec = importlib.util.spec_from_file_location("modeling_llama_fit_out", out / "modeling_llama.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(out))
    from transformers import LlamaConfig

    model = getattr(module, config["architectures"][0])(LlamaConfig.from_dict(config))
    state = load_file(checkpoints["llama"] / "model.safetensors")
    model.load_state_dict(state, strict=not config.get("tie_word_embeddings"))
    assert torch.equal(model.state_dict()["model.embed_tokens.weight"], state["model.embed_tokens.weight"])
    assert main(["fit", str(checkpoints["llama"]), "-o", str(out)]) == 2  # nothing overwritten without --force
    assert "--force" in capsys.readouterr().err


def test_the_reader_on_a_weights_only_folder_opens_the_best_fit(checkpoints, sample_only):
    from archread.cli import build_app

    app = build_app(str(checkpoints["gpt2"]), "llama")
    assert "gpt2" in app.notice and "no modeling code" in app.notice
    assert app.config is not None and json.loads(app.config.read_text())["model_type"] == "gpt2"
    assert "modeling_gpt2" in app.what or "gpt2" in app.what
