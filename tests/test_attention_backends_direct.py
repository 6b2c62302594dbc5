"""Backend classes and kernel probes that remote code reaches without a dispatch table: the reduced module must
still bind every name it reads (each case is the smallest shape of a repo that left a name undefined)."""

from pathlib import Path

from archread.parsers import reduce_source
from archread.parsers.source import Source
from archread.parsers.undefined import undefined_names

HEAD = """
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import is_flash_attn_2_available

if is_flash_attn_2_available():
    from flash_attn import flash_attn_func


class APreTrainedModel(PreTrainedModel):
    pass


class AAttention(nn.Module):
    def __init__(self, config, layer_idx=None):
        super().__init__()
        self.q = nn.Linear(4, 4)

    def forward(self, hidden_states, attention_mask=None, **kwargs):
        return torch.softmax(self.q(hidden_states), -1)
"""

TAIL = """

class ALayer(nn.Module):
    def __init__(self, config, layer_idx):
        super().__init__()
        self.self_attn = {build}

    def forward(self, hidden_states):
        return self.self_attn(hidden_states)


class AForCausalLM(APreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.layers = nn.ModuleList([ALayer(config, i) for i in range(2)])

    def forward(self, hidden_states):
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return hidden_states
"""


def reduced(code: str) -> str:
    return reduce_source(Source(path=Path("modeling_a.py"), text=code, model_type="a", release=None)).code


FLASH = """

class AFlashAttention2(AAttention):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._flash_attn_uses_top_left_mask = True

    def forward(self, hidden_states, attention_mask=None, **kwargs):
        return flash_attn_func(self.q(hidden_states))
"""


def test_a_backend_built_directly_is_replaced_by_its_eager_parent():
    # Fast-dLLM's Dream / MiniMax-M1: the layer builds the backend by name (here picked by layer kind, not backend)
    build = "AAttention(config) if config.attention_type == 0 else AFlashAttention2(config, layer_idx)"
    code = reduced(HEAD + FLASH + TAIL.format(build=build))
    assert undefined_names(code) == []
    assert "AFlashAttention2" not in code and "flash_attn_func" not in code
    assert "self.self_attn = AAttention() if config.attention_type == 0 else AAttention()" in code


def test_a_backend_taking_what_its_parent_does_not_stays():
    # Dream's SDPA class adds a dual cache argument the eager class has no place for: the parent cannot stand in
    sdpa = ("\n\nclass ASdpaAttention(AAttention):\n    def forward(self, hidden_states, attention_mask=None, dual_cache=False):\n"
            "        return torch.nn.functional.scaled_dot_product_attention(hidden_states, hidden_states, hidden_states)\n")
    code = reduced(HEAD + sdpa + TAIL.format(build="ASdpaAttention(config, layer_idx)"))
    assert undefined_names(code) == []
    assert "class ASdpaAttention(AAttention)" in code and "self.self_attn = ASdpaAttention()" in code


def test_a_backend_with_weights_of_its_own_stays_and_its_kernel_is_none():
    # the kernel it calls was imported under the probe that folded: bound to what the probe leaves it here
    own = FLASH.replace("self._flash_attn_uses_top_left_mask = True", "self.k = nn.Linear(4, 4)")
    code = reduced(HEAD + own + TAIL.format(build="AFlashAttention2(config, layer_idx)"))
    assert undefined_names(code) == [] and "class AFlashAttention2(AAttention)" in code
    assert "\nflash_attn_func = None\n" in code


def test_the_flash_flag_read_through_getattr_folds_to_the_eager_branch():
    # 4.35's `_flash_attn_2_enabled` (DeciLM's borrowed Llama)
    build = 'AAttention(config) if not getattr(config, "_flash_attn_2_enabled", False) else AFlashAttention2(config=config)'
    code = reduced(HEAD + FLASH + TAIL.format(build=build))
    assert undefined_names(code) == []
    assert "self.self_attn = AAttention()\n" in code and "_flash_attn_2_enabled" not in code


def test_a_probe_kept_in_a_local_is_false_where_it_is_read():
    # InternEvo's Yi: `flash_attn_available = is_flash_attn_2_available()` in forward decides the later branches
    probe = ("\n\nclass AProbed(AAttention):\n    def forward(self, hidden_states, attention_mask=None):\n"
             "        flash_attn_available = is_flash_attn_2_available()\n        x = self.q(hidden_states)\n"
             "        if not flash_attn_available:\n            x = x.transpose(0, 1)\n"
             "        if flash_attn_available:\n            return flash_attn_func(x)\n"
             "        return torch.softmax(x, -1)\n")
    code = reduced(HEAD + probe + TAIL.format(build="AProbed(config)"))
    assert undefined_names(code) == []
    assert "flash_attn" not in code and "is_flash_attn_2_available" not in code
    assert "return torch.softmax(self.q(hidden_states).transpose(0, 1), -1)" in code


def test_a_model_left_on_a_plain_mixin_is_still_a_module():
    # Dream: `DreamModel(DreamGenerationMixin, DreamPreTrainedModel)`, the mixin built on nothing
    code = HEAD + "\n\nclass AMixin:\n    def generate(self):\n        return 1\n" + TAIL.format(build="AAttention(config)")
    code = code.replace("class AForCausalLM(APreTrainedModel)", "class AForCausalLM(AMixin, APreTrainedModel)")
    assert "class AForCausalLM(AMixin, nn.Module):" in reduced(code)


def test_a_branch_reading_what_only_the_folded_cache_bound_folds_too():
    # Dream's SDPA class: `replace_indices` is bound under `if past_key_value is not None:`, read under `if dual_cache:`
    sdpa = ("\n\nclass ASdpaAttention(AAttention):\n"
            "    def forward(self, hidden_states, attention_mask=None, past_key_value=None, dual_cache=False):\n"
            "        x = self.q(hidden_states)\n        if past_key_value is not None:\n"
            "            replace_indices = past_key_value.nonzero()\n"
            "        if dual_cache:\n            x = x[:, : replace_indices.max() + 1]\n"
            "        return torch.nn.functional.scaled_dot_product_attention(x, x, x)\n")
    code = reduced(HEAD + sdpa + TAIL.format(build="ASdpaAttention(config, layer_idx)"))
    assert undefined_names(code) == []
    assert "replace_indices" not in code and "dual_cache" not in code
    assert "scaled_dot_product_attention(x, x, x)" in code
