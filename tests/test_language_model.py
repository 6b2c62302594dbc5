"""A vision-language repo whose forward needs images: verify runs the language model it builds from a
sub-configuration of config.json, as a causal LM repo of its own, and says so."""

import json
import shutil
from pathlib import Path

from archread.parsers.language_model import language_model
from archread.parsers.remote import remote_code
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"

CONFIGURATION = '''from transformers import PretrainedConfig
from .configuration_rc_llama import RcLlamaConfig


class RcVlmConfig(PretrainedConfig):
    model_type = "rc_vlm"

    def __init__(self, text_config=None, patch=8, **kwargs):
        self.text_config = RcLlamaConfig(**(text_config or {}))
        self.patch = patch
        super().__init__(**kwargs)
'''

MODELING = '''import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_rc_vlm import RcVlmConfig
from .modeling_rc_llama import RcLlamaForCausalLM


class RcVlmForConditionalGeneration(PreTrainedModel):
    config_class = RcVlmConfig

    def __init__(self, config):
        super().__init__(config)
        self.vision = nn.Linear(config.patch, config.text_config.hidden_size)
        self.language_model = RcLlamaForCausalLM(config.text_config)

    def forward(self, pixel_values, input_ids=None, attention_mask=None):
        image = self.vision(pixel_values)
        embeds = self.language_model.model.embed(input_ids)
        return self.language_model.lm_head(torch.cat([image, embeds], dim=1))
'''


def _vlm(tmp_path: Path, text_auto_map: bool) -> Path:
    repo = tmp_path / "rc_vlm"
    shutil.copytree(RC_LLAMA, repo)
    text = json.loads((repo / "config.json").read_text())
    if not text_auto_map:
        text.pop("auto_map")
    (repo / "config.json").write_text(json.dumps({
        "architectures": ["RcVlmForConditionalGeneration"], "model_type": "rc_vlm", "patch": 8, "text_config": text,
        "auto_map": {"AutoConfig": "configuration_rc_vlm.RcVlmConfig",
                     "AutoModelForCausalLM": "modeling_rc_vlm.RcVlmForConditionalGeneration"}}))
    (repo / "configuration_rc_vlm.py").write_text(CONFIGURATION)
    (repo / "modeling_rc_vlm.py").write_text(MODELING)
    return repo


def test_the_language_model_is_read_from_the_code_and_the_sub_configuration(tmp_path):
    found = language_model(remote_code(_vlm(tmp_path, text_auto_map=False)))
    assert (found.modeling, found.root, found.key) == ("modeling_rc_llama", "RcLlamaForCausalLM", "text_config")
    assert found.config["auto_map"] == {"AutoModelForCausalLM": "modeling_rc_llama.RcLlamaForCausalLM",
                                        "AutoConfig": "configuration_rc_llama.RcLlamaConfig"}
    assert found.config["hidden_size"] == 64


def test_a_model_that_runs_on_token_ids_has_no_separate_language_model():
    assert language_model(remote_code(RC_LLAMA)) is None


def test_a_vlm_verifies_on_its_language_model_and_says_so(tmp_path):
    report = verify(_vlm(tmp_path, text_auto_map=True), trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert "verified is the language model it builds, RcLlamaForCausalLM over config.json's text_config" in report.reference


def test_a_causal_lm_named_only_by_a_sub_configurations_auto_map_verifies_over_that(tmp_path):
    """An omni model's config.json: no auto_map of its own, its `llm_config` naming the causal LM."""
    repo = tmp_path / "rc_omni"
    shutil.copytree(RC_LLAMA, repo)
    text = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({"model_type": "rc_omni", "llm_config": text, "audio_config": {"n": 2}}))
    (repo / "modeling_rc_omni_audio.py").write_text("from torch import nn\n\n\nclass Audio(nn.Module):\n    pass\n")
    source_root = remote_code(repo)
    assert (source_root.modeling, source_root.root) == ("modeling_rc_llama", "RcLlamaForCausalLM")
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()
    assert "config.json names no model of its own: its llm_config names RcLlamaForCausalLM" in report.reference
