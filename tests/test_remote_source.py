"""A remote-code repo folder as input: which modeling file, root class and configuration it names, read from
config.json's auto_map or, without one, from the code; and its bad inputs, each one line and exit 2."""

import json
import os
from pathlib import Path

import pytest

from archread.cli import main
from archread.errors import ArchreadError
from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names

# a causal LM whose names follow no transformers suffix, and a classifier built on the same backbone
MODELING = '''
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_glm import GlmConfig


class GlmPreTrainedModel(PreTrainedModel):
    config_class = GlmConfig
    base_model_prefix = "transformer"


class GlmModel(GlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.output_layer = init_method(nn.Linear, config.hidden_size, config.padded_vocab_size, bias=False)

    def forward(self, input_ids):
        return self.embedding(input_ids)


def init_method(cls, *args, **kwargs):
    return cls(*args, **kwargs)


class GlmForConditionalGeneration(GlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = GlmModel(config)

    def forward(self, input_ids):
        hidden = self.transformer(input_ids)
        return self.transformer.output_layer(hidden)


class GlmForSequenceClassification(GlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = GlmModel(config)
        self.classifier_head = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids):
        return self.classifier_head(self.transformer(input_ids)[:, -1])
'''
CONFIGURATION = '''
from transformers import PretrainedConfig


class GlmConfig(PretrainedConfig):
    model_type = "glm"

    def __init__(self, vocab_size=64, padded_vocab_size=64, hidden_size=16, **kwargs):
        self.vocab_size = vocab_size
        self.padded_vocab_size = padded_vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
'''
AUTO_MAP = {"AutoConfig": "configuration_glm.GlmConfig", "AutoModel": "modelling_glm.GlmForConditionalGeneration",
            "AutoModelForSequenceClassification": "modelling_glm.GlmForSequenceClassification"}


def _repo(folder: Path, auto_map=AUTO_MAP, modeling=MODELING, name="modelling_glm.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "glm", "transformers_version": "4.30.2", "vocab_size": 64}
    if auto_map is not None:
        config["auto_map"] = auto_map
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_glm.py").write_text(CONFIGURATION)
    (folder / name).write_text(modeling)
    return folder


def test_auto_map_names_the_modeling_file_root_and_configuration(tmp_path):
    remote = resolve(_repo(tmp_path / "repo")).remote
    assert (remote.modeling, remote.root) == ("modelling_glm", "GlmForConditionalGeneration")
    assert (remote.configuration, remote.config_class) == ("configuration_glm", "GlmConfig")
    assert remote.transformers_version == "4.30.2" and remote.model_type == "glm" and remote.folder == tmp_path / "repo"


def test_without_auto_map_the_root_is_read_off_the_code(tmp_path):
    # the head built on the backbone that adds no classifier, though no name says ForCausalLM
    source = resolve(_repo(tmp_path / "repo", auto_map=None))
    assert source.remote.root == "GlmForConditionalGeneration"
    assert source.remote.configuration == "configuration_glm"  # through the modeling file's own import
    assert reduce_source(source).roots == ["GlmForConditionalGeneration"]


@pytest.mark.parametrize("which", ["folder", "modelling_glm.py", "config.json"])
def test_the_repo_is_the_same_through_any_of_its_files(tmp_path, which):
    repo = _repo(tmp_path / "repo")
    source = resolve(repo if which == "folder" else repo / which)
    assert source.path == repo / "modelling_glm.py" and source.remote.root == "GlmForConditionalGeneration"


def test_an_hf_cache_folder_reads_its_snapshot_without_following_links(tmp_path):
    cache = tmp_path / "models--org--glm"
    blobs = _repo(cache / "blobs")
    snapshot = cache / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for f in blobs.iterdir():
        os.symlink(f, snapshot / f.name)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("abc123")
    source = resolve(cache)
    assert source.remote.folder == snapshot and source.path == snapshot / "modelling_glm.py"


def test_a_lone_modeling_file_is_no_repo(tmp_path):
    (tmp_path / "modeling_glm.py").write_text(MODELING)
    assert resolve(tmp_path / "modeling_glm.py").remote is None


def _bad(capsys, target) -> str:
    assert main(["reduce", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_auto_map_naming_a_missing_file(capsys, tmp_path):
    repo = _repo(tmp_path / "repo", auto_map={**AUTO_MAP, "AutoModel": "modeling_gone.GlmForConditionalGeneration"})
    assert "auto_map's AutoModel names modeling_gone.py, which this folder lacks" in _bad(capsys, repo)


def test_auto_map_naming_a_class_the_file_lacks(capsys, tmp_path):
    repo = _repo(tmp_path / "repo", auto_map={"AutoModelForCausalLM": "modelling_glm.GlmLMHeadModel"})
    assert "GlmLMHeadModel, which modelling_glm.py does not define" in _bad(capsys, repo)


def test_two_candidate_roots_and_no_auto_map_are_named(capsys, tmp_path):
    twin = MODELING + MODELING.split("class GlmForConditionalGeneration")[1].join(["\n\nclass GlmChatModel", ""])
    repo = _repo(tmp_path / "repo", auto_map=None, modeling=twin)
    err = _bad(capsys, repo)
    assert "two candidate root classes (GlmForConditionalGeneration, GlmChatModel)" in err


EXTENDED = MODELING.replace("from .configuration_glm", "from transformers.modeling_utils import SequenceSummary\nfrom .configuration_glm") + '''

class GlmDoubleHeadsModel(GlmPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = GlmModel(config)
        self.multiple_choice_head = SequenceSummary(config)

    def forward(self, input_ids, mc_token_ids=None):
        hidden = self.transformer(input_ids)
        return self.transformer.output_layer(hidden)
'''


def test_a_class_that_adds_another_tasks_head_to_the_same_model_is_not_the_root(tmp_path):
    """GPT-2's double heads: all the LM head builds, and a multiple-choice head of the framework's."""
    assert resolve(_repo(tmp_path / "repo", auto_map=None, modeling=EXTENDED)).remote.root == "GlmForConditionalGeneration"


LAYERS_ONLY = "from torch import nn\n\nclass Block(nn.Module):\n    pass\n"


@pytest.mark.parametrize("config_json", [True, False])
def test_of_several_modeling_files_the_one_with_a_model_class_is_read(tmp_path, config_json):
    repo = _repo(tmp_path / "repo", auto_map=None)
    (repo / "modeling_glm_layers.py").write_text(LAYERS_ONLY)
    if not config_json:
        (repo / "config.json").unlink()
    assert resolve(repo).path == repo / "modelling_glm.py"


def test_several_modeling_files_each_with_a_model_class_are_named(capsys, tmp_path):
    repo = _repo(tmp_path / "repo", auto_map=None)
    (repo / "modeling_glm_other.py").write_text(MODELING)
    err = _bad(capsys, repo)
    assert "several modeling files (modeling_glm_other.py, modelling_glm.py) and no auto_map naming one" in err


def test_no_model_class_and_no_auto_map(tmp_path):
    repo = _repo(tmp_path / "repo", auto_map=None, modeling="from torch import nn\n\nclass Block(nn.Module):\n    pass\n")
    with pytest.raises(ArchreadError, match="no PreTrainedModel class"):
        resolve(repo)


def test_a_relative_import_of_the_repos_kernel_module_stays_and_is_said(tmp_path):
    # CogVLM's rotary: `from .util import FastRotaryEmbedding`, a triton kernel with no torch path in the file
    kernel_user = MODELING.replace("from .configuration_glm import GlmConfig", "from .configuration_glm import GlmConfig\n"
                                   "from .kern import FastScale").replace(
        "        return self.embedding(input_ids)", "        return FastScale()(self.embedding(input_ids))")
    repo = _repo(tmp_path / "repo", modeling=kernel_user)
    (repo / "kern.py").write_text("import torch\nimport triton\n\n\nclass FastScale(torch.nn.Module):\n"
                                  "    def forward(self, x):\n        return x * 2\n")
    reduction = reduce_source(resolve(repo))
    assert "from .kern import FastScale" in reduction.code
    assert not undefined_names(reduction.code)
    assert any("imports .kern, a kernel module of the repo" in w for w in reduction.warnings)


LONE = '''
import torch
from torch import nn
from transformers import PreTrainedModel


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ff = nn.Linear(config.d_model, config.d_model)

    def forward(self, x):
        return x + self.ff(x)


class Backbone(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layers)])
        self.out = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, input_ids):
        x = self.wte(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.out(x)


class BackboneLM(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = Backbone(config)

    def forward(self, input_ids):
        return self.model(input_ids)
'''


def test_a_file_of_no_release_whose_names_leave_several_roots_has_its_root_read_off_the_code(tmp_path):
    # no name suffix marks an LM head: the PreTrainedModel class the other classes serve is the model
    (tmp_path / "modeling_lone.py").write_text(LONE)
    assert reduce_source(resolve(tmp_path / "modeling_lone.py")).roots == ["BackboneLM"]


def test_a_subclass_of_the_root_that_only_requantises_is_not_a_second_root(tmp_path):
    # a 4-bit variant: rebuilds the same modules and quantises them, with no forward of its own
    # named as a causal LM, whose name alone would make the leaf subclass the root
    lm = MODELING.split("class GlmForSequenceClassification")[0].replace("GlmForConditionalGeneration", "GlmForCausalLM")
    quantised = lm + '''

class Glm4bitForCausalLM(GlmForCausalLM):
    def __init__(self, config):
        GlmPreTrainedModel.__init__(self, config)
        self.transformer = GlmModel(config)
        import bitsandbytes
'''
    repo = _repo(tmp_path / "repo", auto_map=None, modeling=quantised)
    assert resolve(repo).remote.root == "GlmForCausalLM"
    (repo / "config.json").unlink()
    assert reduce_source(resolve(repo / "modelling_glm.py")).roots == ["GlmForCausalLM"]
