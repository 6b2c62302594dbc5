"""The tiny configuration keeps the relations a configuration class checks when it is rebuilt."""

from transformers import PretrainedConfig

from archread.runtime.code_sizes import literal_divisors, literal_sizes
from archread.runtime.tiny import fewer_layers, shrink


class HybridConfig:
    """Shaped like Falcon-H1's (4.5x): an explicit SSM width that must equal heads × head size."""

    def __init__(self, hidden_size=1024, num_hidden_layers=24, num_attention_heads=8, mamba_n_heads=128,
                 mamba_d_head=16, mamba_expand=2, mamba_d_ssm=2048, layer_types=None, **tokens):
        if mamba_d_head * mamba_n_heads != mamba_d_ssm:
            raise ValueError("the Mamba head state does not match the SSM width")
        self.__dict__.update({k: v for k, v in locals().items() if k not in ("self", "tokens")}, **tokens)

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, fields):
        return cls(**fields)


def test_an_explicit_ssm_width_follows_the_shrunk_heads():
    tiny = shrink(HybridConfig())
    assert tiny.hidden_size == 64 and tiny.mamba_d_ssm == tiny.mamba_n_heads * tiny.mamba_d_head < 2048


def test_per_layer_lists_keep_one_layer_of_every_kind():
    kinds = ["full"] * 3 + ["sliding"] * 20 + ["full"]
    tiny = shrink(HybridConfig(layer_types=kinds))
    assert tiny.layer_types == ["full", "full", "sliding"] and tiny.num_hidden_layers == 3


def test_per_layer_lists_of_sizes_shrink_entry_by_entry():
    # HunYuan-A13B: a top-k and an expert width per layer; k must stay within the shrunk expert count
    tiny = shrink(HybridConfig(num_experts=64, moe_topk=[8] * 24, moe_intermediate_size=[3072] * 24,
                               num_shared_expert=[1] * 24))
    assert tiny.num_experts == 4 and set(tiny.moe_topk) == {2} and set(tiny.moe_intermediate_size) == {32}
    assert set(tiny.num_shared_expert) == {1} and len(tiny.moe_topk) == tiny.num_hidden_layers


def test_lists_of_layer_indices_follow_the_layers_kept():
    # 5.25 Kolibri's index_layers: the indexer layers among the "indexed" ones; the class checks both agree
    kinds = ["sliding" if (i + 1) % 5 else "indexed" for i in range(30)]
    tiny = shrink(HybridConfig(num_hidden_layers=30, layer_types=kinds, index_layers=[4, 14, 19, 29]))
    picked = [tiny.layer_types[i] for i in tiny.index_layers]
    assert tiny.index_layers and picked == ["indexed"] * len(tiny.index_layers)
    assert tiny.index_layers == sorted(tiny.index_layers) and len(tiny.layer_types) == tiny.num_hidden_layers
    assert "indexed" in [tiny.layer_types[i] for i in range(tiny.num_hidden_layers) if i not in tiny.index_layers]


def test_absent_special_token_ids_are_none():
    # transformers 5.0's PhiConfig has no pad_token_id while PhiModel reads config.pad_token_id
    tiny = shrink(HybridConfig())
    assert tiny.pad_token_id is None and tiny.eos_token_id is None


def test_a_model_the_shrinking_leaves_large_is_refused_before_it_is_allocated(monkeypatch):
    # 5.24 Gemma4UnifiedAssistant keeps its sizes in a section shrink does not reach: 2.9 billion parameters
    import pytest
    import torch

    from archread.errors import ArchreadError
    from archread.runtime import tiny
    from archread.runtime.tiny import check_small

    monkeypatch.setattr(tiny, "_memory", lambda: 1 << 30)  # a 1 GiB machine: 100 M float32 parameters do not fit

    class Wide(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.proj = torch.nn.Linear(config.width, config.width)

    check_small(Wide, type("C", (), {"width": 64})())
    with pytest.raises(ArchreadError, match="100,010,000 parameters for Wide, more than this machine's 1 GiB"):
        check_small(Wide, type("C", (), {"width": 10_000})())


class FusedConfig:
    """Shaped like Falcon-40B's RW configuration: heads as n_head, kv heads as n_head_kv, no head_dim field."""

    def __init__(self, hidden_size=8192, n_head=128, n_head_kv=8, n_layer=60, **tokens):
        self.__dict__.update({k: v for k, v in locals().items() if k not in ("self", "tokens")}, **tokens)

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, fields):
        return cls(**fields)


_RW_SPLIT = "def f(fused, b, t):\n    return fused.view(b, t, -1, 18, 64)\n"


def test_a_head_size_the_code_writes_as_a_literal_is_kept():
    tiny = shrink(FusedConfig(), literal_sizes(_RW_SPLIT))
    assert tiny.hidden_size // tiny.n_head == 64 and tiny.hidden_size < 8192
    assert shrink(FusedConfig()).hidden_size // shrink(FusedConfig()).n_head == 16  # no literal: the usual width


def test_kv_heads_named_head_kv_shrink_with_the_query_heads():
    tiny = shrink(FusedConfig())
    assert tiny.n_head % tiny.n_head_kv == 0 and tiny.n_head_kv < 8


def test_layers_an_offset_and_period_choose_still_occur():
    # Jamba: attention where (i - 4) % 8 == 0, experts where (i - 1) % 2 == 0; two layers would hold no attention
    tiny = shrink(HybridConfig(attn_layer_offset=4, attn_layer_period=8, expert_layer_offset=1, expert_layer_period=2))
    kinds = {((i - 4) % 8 == 0, (i - 1) % 2 == 0) for i in range(tiny.num_hidden_layers)}
    assert tiny.num_hidden_layers == 5 and kinds == {(False, False), (False, True), (True, False)}


def test_an_offset_within_the_tiny_stack_keeps_it_tiny():
    assert shrink(HybridConfig(attn_layer_offset=1, attn_layer_period=2)).num_hidden_layers == 2


class RoutedConfig(HybridConfig):
    """Shaped like DeepSeek-V2's remote configuration: experts unset by default (a dense MLP), groups checked together."""

    def __init__(self, n_routed_experts=None, n_group=None, topk_group=None, **fields):
        if (n_group is None) != (topk_group is None):
            raise ValueError("n_group and topk_group must be set together")
        super().__init__(**fields)
        self.__dict__.update(n_routed_experts=n_routed_experts, n_group=n_group, topk_group=topk_group)


def test_an_unset_field_the_reading_rests_on_stays_unset():
    assert shrink(RoutedConfig()).n_routed_experts == 4  # nothing read it: a tiny value, as before
    assert shrink(RoutedConfig(), assumed={"n_routed_experts": None}).n_routed_experts is None


def test_an_unset_field_the_class_checks_with_another_keeps_the_other_unset_too():
    # AXK2 checks n_group with topk_group: the fill of topk_group alone is one the class rejects, so it is left out
    tiny = shrink(RoutedConfig(), assumed={"n_group": None})
    assert (tiny.n_group, tiny.topk_group) == (None, None)
    assert (shrink(RoutedConfig()).n_group, shrink(RoutedConfig()).topk_group) == (1, 1)


def test_a_per_layer_list_the_offset_and_period_derive_decides_the_layers():
    # Zamba's configuration writes layer_types from its offset and period: the list's choice is the one kept
    kinds = ["hybrid" if i % 6 == 4 else "mamba" for i in range(24)]
    tiny = shrink(HybridConfig(layer_types=kinds, attn_layer_offset=4, attn_layer_period=6))
    assert tiny.layer_types == ["mamba", "mamba", "hybrid"] and tiny.num_hidden_layers == 3


class TowerConfig:
    """Shaped like Qwen-VL's: a plain dict section the model unpacks into its vision tower, whose output is the
    model's width and whose head count is written as `output_dim // 128` in the tower's code."""

    def __init__(self, hidden_size=4096, num_attention_heads=32, kv_channels=128, num_hidden_layers=32, visual=None):
        visual = visual or {"width": 1664, "layers": 48, "heads": 16, "output_dim": 4096, "patch_size": 14,
                            "image_start_id": 151857, "mlp_ratio": 4.9231}
        self.__dict__.update({k: v for k, v in locals().items() if k != "self"})

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, fields):
        return cls(**fields)


def test_a_plain_section_shrinks_by_its_own_words_and_its_output_follows_the_width():
    tiny = shrink(TowerConfig())
    assert tiny.visual["width"] == 64 and tiny.visual["layers"] == 2 and tiny.visual["heads"] == 4
    assert tiny.visual["output_dim"] == tiny.hidden_size == 64
    assert tiny.visual["image_start_id"] == 151857 and tiny.visual["patch_size"] == 14


def test_a_size_the_code_divides_by_a_literal_stays_a_multiple_and_the_heads_follow_the_width():
    code = "class Tower:\n    def __init__(self, output_dim):\n        self.heads = output_dim // 128\n"
    divisors = literal_divisors([code])
    assert divisors == {"output_dim": 128}
    tiny = shrink(TowerConfig(), divisors=divisors)
    assert tiny.visual["output_dim"] == tiny.hidden_size == 128
    assert tiny.kv_channels * tiny.num_attention_heads == tiny.hidden_size  # Qwen projects heads × kv_channels


def test_the_second_try_keeps_the_widths_and_takes_few_layers():
    wider = fewer_layers(HybridConfig(layer_types=["full"] * 3 + ["sliding"] * 21))
    assert wider.hidden_size == 1024 and wider.mamba_d_ssm == 2048  # the first two layers and one of every kind:
    assert wider.layer_types == ["full", "full", "sliding"] and wider.num_hidden_layers == 3
    assert fewer_layers(HybridConfig(num_hidden_layers=2)) is None  # nothing fewer to try


def test_a_sub_configuration_kept_as_an_object_shrinks_by_its_own_class():
    """InternVL's configuration builds `self.llm_config = LlamaConfig(**llm_config)` without declaring it a
    sub-configuration: the section shrinks as a Llama configuration does, and the outer class rebuilds it."""
    from transformers import LlamaConfig, PretrainedConfig

    class ChatConfig(PretrainedConfig):
        model_type = "rc_chat"

        def __init__(self, llm_config=None, downsample_ratio=0.5, **kwargs):
            super().__init__(**kwargs)
            self.llm_config = LlamaConfig(**(llm_config or {}))
            self.downsample_ratio = downsample_ratio

    big = ChatConfig(llm_config={"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 16,
                                 "intermediate_size": 8192, "vocab_size": 92553})
    tiny = shrink(big)
    assert isinstance(tiny.llm_config, LlamaConfig)
    assert tiny.llm_config.hidden_size < 2048 and tiny.llm_config.num_hidden_layers <= 2
    assert tiny.llm_config.vocab_size < 92553 and tiny.downsample_ratio == 0.5


class _StrictSection(PretrainedConfig):
    """DBRX's attention section: any keyword it does not name is an error, the base class's own included."""

    def __init__(self, kv_n_heads=8, rope_theta=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.kv_n_heads, self.rope_theta = kv_n_heads, rope_theta
        kwargs.pop("model_type", None)
        if kwargs:
            raise ValueError(f"Found unknown {kwargs=}")


class _WithStrictSection(PretrainedConfig):
    model_type = "archread_strict"

    def __init__(self, d_model=4096, n_layers=32, vocab_size=50000, attn_config=None, **kwargs):
        self.d_model, self.n_layers, self.vocab_size = d_model, n_layers, vocab_size
        self.attn_config = _StrictSection(**(attn_config or {}))
        super().__init__(**kwargs)


def test_a_configuration_whose_sections_reject_the_base_fields_still_shrinks():
    tiny = shrink(_WithStrictSection(attn_config={"kv_n_heads": 8}))
    assert tiny.d_model < 4096 and tiny.n_layers <= 4 and tiny.attn_config.kv_n_heads == 8
