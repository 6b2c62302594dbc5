"""The prelude's stand-ins for the framework's helpers compute what the framework's own do."""

import copy
import math

import pytest
import torch
from torch import nn
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS as FRAMEWORK

from archread.prelude import ROPE_INIT_FUNCTIONS, Module, yarn_apply_mscale

ROPES = {
    "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
    "llama3": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "original_max_position_embeddings": 64,
             "mscale": 1.0, "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1},
    "longrope": {"rope_type": "longrope", "rope_theta": 10000.0, "original_max_position_embeddings": 64,
                 "short_factor": [1.0 + 0.1 * i for i in range(8)], "long_factor": [2.0 + 0.3 * i for i in range(8)]},
}


@pytest.mark.parametrize("kind", sorted(ROPES))
def test_rope_initialisers_match_the_framework(kind):
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, max_position_embeddings=512, rope_parameters=ROPES[kind])
    ours, theirs = ROPE_INIT_FUNCTIONS[kind](config), FRAMEWORK[kind](config)
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-6, atol=0)
    assert ours[1] == pytest.approx(theirs[1])
    if kind == "longrope":  # past the pretrained context: the long factors
        ours, theirs = ROPE_INIT_FUNCTIONS[kind](config, seq_len=100), FRAMEWORK[kind](config, seq_len=100)
        torch.testing.assert_close(ours[0], theirs[0], rtol=1e-6, atol=0)


def test_yarn_mscale_folds_into_the_attention_scale_only_off_the_default_rope():
    # DeepSeek's reference: softmax_scale = qk_head_dim**-0.5 * mscale**2, mscale = 0.1 * mscale_all_dim * ln(factor) + 1
    scale = 192 ** -0.5
    yarn = {"rope_type": "yarn", "factor": 40.0, "mscale_all_dim": 1.0}
    assert yarn_apply_mscale(yarn, scale) == pytest.approx(scale * (0.1 * math.log(40.0) + 1) ** 2)
    assert yarn_apply_mscale({**yarn, "rope_type": "default"}, scale) == scale
    assert yarn_apply_mscale({**yarn, "mscale_all_dim": 0}, scale) == scale
    assert yarn_apply_mscale({**yarn, "factor": 1.0}, scale) == scale


def test_module_is_set_up_before_the_subclass_init():
    class Block(Module):
        def __init__(self, n):
            self.proj = torch.nn.Linear(n, n)  # no super().__init__(): registering works already

    class Kept(Module):
        def __init__(self, n):
            super().__init__()  # a set-up left in resets nothing registered yet
            self.proj = torch.nn.Linear(n, n)

    block, kept = Block(3), Kept(3)
    assert list(block.state_dict()) == ["proj.weight", "proj.bias"] == list(kept.state_dict())
    kept.load_state_dict(block.state_dict(), strict=True)
    twin = copy.deepcopy(block)
    assert torch.equal(twin.proj.weight, block.proj.weight) and twin.proj.weight is not block.proj.weight
    assert isinstance(block, torch.nn.Module) and block.training


def test_a_reduced_class_reads_the_base_models_dtype_and_device_unless_it_sets_its_own():
    # 4.4x gpt_neox builds its padding mask from `torch.finfo(self.dtype).min`, a PreTrainedModel member
    class Net(Module):
        def __init__(self):
            self.proj = nn.Linear(2, 2)

    class Own(Module):
        def __init__(self):
            self.dtype = "chosen"

    net = Net().to(torch.float64)
    assert net.dtype == torch.float64 and net.device == torch.device("cpu")
    assert Own().dtype == "chosen"
    with pytest.raises(AttributeError):
        Net().missing
