"""Remote code whose default configuration gives no runnable LM, and repos whose root the code decides only
through what its forward needs: small repos written to tmp_path (no config.json, as GLM's and CodeShell's
checkouts ship), read and verified as a user would."""

import ast
from pathlib import Path

import pytest

from archread.parsers.config_defaults import default_values
from archread.parsers.remote import code_root
from archread.parsers.runnable_defaults import runnable_values
from archread.runtime.verify import verify

GATE_CONFIG = '''from transformers import PretrainedConfig


class RcGateConfig(PretrainedConfig):
    model_type = "rcgate"

    def __init__(self, vocab_size=96, hidden_size=64, num_layers=2, output_predict=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.output_predict = output_predict
        super().__init__(**kwargs)
'''

# GLM's shape: the base model projects onto its tied embedding only under `if self.output_predict`, which
# defaults to False; a generation class and a multiple-choice class both read its logits
GATE_MODEL = '''import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rcgate import RcGateConfig


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm = nn.LayerNorm(config.hidden_size)
        self.up = nn.Linear(config.hidden_size, 2 * config.hidden_size)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size)

    def forward(self, x):
        mixed = x.cumsum(1) / torch.arange(1, x.shape[1] + 1, device=x.device)[None, :, None]
        return x + self.down(F.silu(self.up(self.norm(mixed))))


class RcGatePreTrainedModel(PreTrainedModel):
    config_class = RcGateConfig
    base_model_prefix = "model"


class RcGateModel(RcGatePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.output_predict = config.output_predict
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([Block(config) for _ in range(config.num_layers)])
        self.post_init()

    def forward(self, input_ids):
        hidden = self.word_embeddings(input_ids)
        for layer in self.layers:
            hidden = layer(hidden)
        logits = None
        if self.output_predict:
            logits = F.linear(hidden, self.word_embeddings.weight)
        return CausalLMOutput(logits=logits)


class RcGateForConditionalGeneration(RcGatePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcGateModel(config)
        self.post_init()

    def forward(self, input_ids, labels=None):
        logits = self.model(input_ids).logits
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return CausalLMOutput(loss=loss, logits=logits)


class RcGateForMultipleChoice(RcGatePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcGateModel(config)
        self.post_init()

    def forward(self, input_ids, choice_ids=None):
        log_probs = F.log_softmax(self.model(input_ids).logits, dim=-1)
        return CausalLMOutput(logits=torch.stack([row[-1, c] for row, c in zip(log_probs, choice_ids)]))
'''

ROPE_CONFIG = '''from transformers import PretrainedConfig


class RcRopeConfig(PretrainedConfig):
    model_type = "rcrope"

    def __init__(self, vocab_size=96, hidden_size=64, num_layers=2, num_heads=4, max_position_embeddings=64,
                 position_embedding_type="absolute", **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.max_position_embeddings = max_position_embeddings
        self.position_embedding_type = position_embedding_type
        super().__init__(**kwargs)
'''

# CodeShell's shape: the attention builds its rotary module only for "rope" (through a helper) and calls it
# whatever the type, and the model's own causal mask fits a batch of one unless a mask of the batch is given
ROPE_MODEL = '''import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rcrope import RcRopeConfig


class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, dim, 2).float() / dim), persistent=False)

    def forward(self, x):
        freqs = torch.outer(torch.arange(x.shape[-2], device=x.device).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.position_embedding_type = config.position_embedding_type
        self.heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        if self.position_embedding_type == "rope":
            self._init_rope()

    def _init_rope(self):
        self.rotary_emb = Rotary(self.head_dim)

    def forward(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        cos, sin = self.rotary_emb(q)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if mask.shape[0] != b:
            raise ValueError(f"attention mask should be of batch {b}, but is {mask.shape[0]}")
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(att.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm_1 = nn.LayerNorm(config.hidden_size)
        self.attn = Attention(config)
        self.norm_2 = nn.LayerNorm(config.hidden_size)
        self.mlp = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x, mask):
        x = x + self.attn(self.norm_1(x), mask)
        return x + self.mlp(F.gelu(self.norm_2(x)))


class RcRopePreTrainedModel(PreTrainedModel):
    config_class = RcRopeConfig
    base_model_prefix = "transformer"


class RcRopeModel(RcRopePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.position_embedding_type = config.position_embedding_type
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        if self.position_embedding_type == "absolute":
            self.wpe = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.h = nn.ModuleList([Block(config) for _ in range(config.num_layers)])
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask[:, None, None, :].bool()
        hidden = self.wte(input_ids)
        if self.position_embedding_type == "absolute":
            hidden = hidden + self.wpe(torch.arange(t, device=input_ids.device))
        for block in self.h:
            hidden = block(hidden, mask)
        return hidden


class RcRopeForCausalLM(RcRopePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = RcRopeModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        return CausalLMOutput(logits=self.lm_head(self.transformer(input_ids, attention_mask)))
'''


def _repo(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def _runnable(folder: Path, modeling: str) -> dict:
    defaults, _ = default_values(folder / modeling)
    return runnable_values(folder / modeling, defaults)[0]


def _root(text: str) -> str:
    return code_root(ast.parse(text), Path("modeling_x.py"))


def test_a_root_whose_forward_iterates_an_input_it_never_tests_serves_another_task():
    assert _root(GATE_MODEL) == "RcGateForConditionalGeneration"


def test_a_choice_head_that_tests_its_input_stays_a_candidate():
    guarded = GATE_MODEL.replace(
        "        log_probs = F.log_softmax(", "        if choice_ids is None:\n            return self.model(input_ids)\n"
        "        log_probs = F.log_softmax(")
    with pytest.raises(Exception, match=r"two candidate root classes \(RcGateForConditionalGeneration, RcGateForMultipleChoice\)"):
        _root(guarded)


def test_a_false_flag_around_the_tied_vocabulary_projection_is_read_true(tmp_path):
    folder = _repo(tmp_path, "rc_gate", {"configuration_rcgate.py": GATE_CONFIG, "modeling_rcgate.py": GATE_MODEL})
    assert _runnable(folder, "modeling_rcgate.py") == {"output_predict": True}
    on = _repo(tmp_path, "rc_gate_on", {"configuration_rcgate.py": GATE_CONFIG.replace("output_predict=False", "output_predict=True"),
                                        "modeling_rcgate.py": GATE_MODEL})
    assert _runnable(on, "modeling_rcgate.py") == {}
    # a flag around something else than the vocabulary projection is no head's switch
    other = _repo(tmp_path, "rc_gate_other", {"configuration_rcgate.py": GATE_CONFIG, "modeling_rcgate.py": GATE_MODEL.replace(
        "F.linear(hidden, self.word_embeddings.weight)", "hidden.mean(-1)")})
    assert _runnable(other, "modeling_rcgate.py") == {}


def test_a_repo_whose_default_turns_the_head_off_verifies_with_it_on(tmp_path):
    folder = _repo(tmp_path, "rc_gate", {"configuration_rcgate.py": GATE_CONFIG, "modeling_rcgate.py": GATE_MODEL})
    report = verify(folder, trust_code=True)
    assert report.match, report.to_text()
    assert "RcGateForConditionalGeneration (remote code" in report.reference
    assert "read with output_predict=True" in report.to_text()


def test_a_default_that_builds_no_module_the_forward_calls_is_read_with_the_value_that_builds_it(tmp_path):
    folder = _repo(tmp_path, "rc_rope", {"configuration_rcrope.py": ROPE_CONFIG, "modeling_rcrope.py": ROPE_MODEL})
    assert _runnable(folder, "modeling_rcrope.py") == {"position_embedding_type": "rope"}
    rope = _repo(tmp_path, "rc_rope_default", {"configuration_rcrope.py": ROPE_CONFIG.replace('"absolute", **', '"rope", **'),
                                               "modeling_rcrope.py": ROPE_MODEL})
    assert _runnable(rope, "modeling_rcrope.py") == {}
    # the forward asks for the module only on the type that builds it: the default runs
    guarded = ROPE_MODEL.replace("        cos, sin = self.rotary_emb(q)\n        q, k = ",
                                 "        if self.position_embedding_type == \"rope\":\n            cos, sin = self.rotary_emb(q)\n            q, k = ")
    tested = _repo(tmp_path, "rc_rope_tested", {"configuration_rcrope.py": ROPE_CONFIG, "modeling_rcrope.py": guarded})
    assert _runnable(tested, "modeling_rcrope.py") == {}


@pytest.mark.parametrize("default,wanted", [("False", {"use_rotary": True}), ("None", {})])
def test_a_flag_that_alone_builds_the_module_is_switched_on_only_from_false(tmp_path, default, wanted):
    config = ROPE_CONFIG.replace('position_embedding_type="absolute", **', f'position_embedding_type="absolute", use_rotary={default}, **')
    config = config.replace("        super().__init__(**kwargs)", "        self.use_rotary = use_rotary\n        super().__init__(**kwargs)")
    model = ROPE_MODEL.replace('        if self.position_embedding_type == "rope":\n            self._init_rope()',
                               "        if config.use_rotary:\n            self._init_rope()")
    folder = _repo(tmp_path, "rc_flag", {"configuration_rcrope.py": config, "modeling_rcrope.py": model})
    assert _runnable(folder, "modeling_rcrope.py") == wanted


def test_a_repo_unrunnable_under_its_defaults_and_without_a_mask_verifies(tmp_path):
    folder = _repo(tmp_path, "rc_rope", {"configuration_rcrope.py": ROPE_CONFIG, "modeling_rcrope.py": ROPE_MODEL})
    report = verify(folder, trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    text = report.to_text()
    assert "cannot run under its defaults: position_embedding_type='absolute' builds no Attention.rotary_emb" in text
    assert "read with position_embedding_type='rope'" in text and "all-ones attention_mask" in text


def test_a_mask_that_does_not_help_leaves_the_first_error():
    import torch

    from archread.runtime.compare import run_original_with_taps

    class Broken(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            raise RuntimeError("broken whatever the mask" if attention_mask is None else "the second error")

    with pytest.raises(RuntimeError, match="broken whatever the mask"):
        run_original_with_taps(Broken(), torch.zeros(2, 4, dtype=torch.long), [])


def test_a_value_read_off_the_defaults_is_not_forced_on_a_configuration_that_chose_another():
    # a checkpoint's config.json that set the field is the model run: only where it still holds the default
    from types import SimpleNamespace

    from archread.runtime.reading_values import on_runnable_values

    repaired = {"position_embedding_type": ["learned_absolute", "rope", "why"], "output_predict": [False, True, "why"]}
    chose = on_runnable_values(SimpleNamespace(position_embedding_type="alibi", output_predict=False), repaired)
    assert chose.position_embedding_type == "alibi" and chose.output_predict is True
    unset = on_runnable_values(SimpleNamespace(), repaired)
    assert unset.position_embedding_type == "rope" and unset.output_predict is True
