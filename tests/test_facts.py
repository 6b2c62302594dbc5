"""Facts read through what the code means, across lineages; the new families in every diff format."""

import json

import pytest

from archread.cli import main
from archread.diff import diff_models
from archread.parsers import reduce_source, resolve
from archread.parsers.facts import facts


def read(model_type):
    from archread.diff.align import facts_of
    return {f.key: f for f in facts_of(reduce_source(resolve(model_type)))}


@pytest.mark.parametrize("model_type,want", [
    ("falcon", {"attn.fused_qkv": True, "attn.scale": "head_dim", "block.residual": "parallel"}),  # 1/math.sqrt(head_dim)
    ("gptj", {"pos.rotary_fraction": "partial", "pos.rotary_style": "interleaved"}),  # 64 of a 256-wide head
    ("opt", {"mlp.gated": False, "mlp.activation": "relu", "mlp.bias": True, "attn.scale": "head_dim"}),  # fc1/fc2 in the layer
    ("bloom", {"mlp.activation": "gelu_tanh", "block.norm_placement": "pre", "attn.fused_qkv": True}),  # tanh GELU by its body
    ("mpt", {"mlp.activation": "gelu"}),  # nn.GELU(approximate="none")
    ("dbrx", {"mlp.moe": True, "norm.kind": "layernorm", "norm.bias": False, "mlp.gated": True}),
    ("bert", {"attn.qkv_bias": True, "block.norm_placement": "post", "attn.fused_qkv": False}),  # nn.Linear's default bias
    ("deepseek_v3", {"mlp.moe": True, "attn.mla": True, "attn.qk_norm": False, "mla.q_rank": 1536, "mla.kv_rank": 512,
                     "mla.rope_dim": 64, "mla.nope_dim": 128, "moe.layers": "per_layer", "moe.shared_experts": 1}),
    ("mixtral", {"moe.experts": 8, "moe.top_k": 2, "moe.router": "softmax then top-k", "mlp.fused_gate_up": True}),
    ("qwen3_moe", {"moe.experts": 128, "moe.top_k": 8, "attn.qk_norm": True}),
    ("jamba", {"layers.kinds": "attention+mamba", "mixer.kind": "mamba", "mixer.state_size": 16, "mixer.conv_kernel": 4}),
    ("nemotron_h", {"layers.kinds": "attention+mamba2", "mixer.kind": "mamba2", "mixer.state_size": 128}),
    ("nemotron", {"precision.autocast_off": "norm", "norm.weight_offset": 1}),
])
def test_seen_cases(model_type, want):
    found = read(model_type)
    assert {k: found[k].value if k in found else None for k in want} == want
    assert found["mlp.activation"].value != "unknown"
    assert all(found[k].line for k in want if not k.startswith("layers."))  # each read from a line


def test_per_layer_choice_keeps_its_condition():
    found = read("deepseek_v3")
    assert "first_k_dense_replace" in found["moe.layers"].when
    assert "first_k_dense_replace=3" in found["moe.layers"].where


@pytest.mark.parametrize("model_type,keys", [
    ("mixtral", ["moe.experts", "moe.top_k"]), ("qwen3_moe", ["moe.experts", "moe.router"]),
    ("deepseek_v3", ["attn.mla", "mla.kv_rank", "moe.layers"]), ("jamba", ["layers.kinds", "mixer.kind"]),
    ("nemotron_h", ["layers.kinds", "mixer.state_size"]), ("lfm2", ["layers.kinds", "mixer.conv_kernel"]),
    ("granitemoehybrid", ["moe.shared_experts", "mixer.kind"]), ("recurrent_gemma", ["layers.pattern", "mixer.kind"]),
])
@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "html"])
def test_families_in_every_format(model_type, keys, fmt, capsys):
    assert main(["diff", model_type, "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert set(keys) <= {d["key"] for d in json.loads(out)["differing"]}
    else:
        assert all(k in out for k in keys)


LLAMA_ATTENTION_SCALES = ["self.head_dim**-0.5", "1.0 / math.sqrt(self.head_dim)", "1 / self.head_dim ** 0.5",
                          "(config.hidden_size // config.num_attention_heads) ** -0.5"]


@pytest.mark.parametrize("scale", LLAMA_ATTENTION_SCALES)
def test_the_default_scale_written_other_ways_is_no_difference(scale):
    code = reduce_source(resolve("llama")).code
    assert "self.scaling = self.head_dim**-0.5" in code
    base = {f.key: f.value for f in facts(code)}
    other = {f.key: f.value for f in facts("import math\n" + code.replace("self.head_dim**-0.5", scale))}
    assert other["attn.scale"] == base["attn.scale"] == "head_dim"
    custom = {f.key: f.value for f in facts(code.replace("self.head_dim**-0.5", "0.125"))}
    assert custom["attn.scale"] == "custom"  # a check that can fail


@pytest.mark.parametrize("old,new", [
    ("bias=False)", "False)"),  # bias by position
    ("ACT2FN[config.hidden_act]", "nn.SiLU()"),  # an activation module instead of the table
    ("ACT2FN[config.hidden_act]", "nn.functional.silu"),
])
def test_same_math_other_spelling_no_difference(old, new):
    code = reduce_source(resolve("llama")).code
    assert old in code
    base = {f.key: f.value for f in facts(code, _llama_config())}
    other = {f.key: f.value for f in facts(code.replace(old, new), _llama_config())}
    assert other == base


def _llama_config():
    from archread.diff.align import config_for
    return config_for(reduce_source(resolve("llama")))


def test_llama_against_itself_has_no_family_facts():
    r = reduce_source(resolve("llama"))
    assert diff_models(r, r).differing == []


def _facts_of(model_type, old=None, new=None):
    from archread.diff.align import config_for
    r = reduce_source(resolve(model_type))
    code = r.code
    if old is not None:
        assert old in code, old
        code = code.replace(old, new)
    return {f.key: f.value for f in facts(code, config_for(r), r.autocast_off)}


ROUTER = ("        router_probs = torch.nn.functional.softmax(router_logits.float(), dim=-1)\n"
          "        router_top_value, router_indices = torch.topk(router_probs, self.top_k, dim=-1)\n"
          "        router_top_value /= router_top_value.sum(dim=-1, keepdim=True)\n")


@pytest.mark.parametrize("model_type,old,new", [
    # softmax over the k best logits (GraniteMoe) is the top-k of the softmax renormalised (Mixtral)
    ("mixtral", ROUTER, "        router_top_value, router_indices = router_logits.float().topk(self.top_k, dim=-1)\n"
                        "        router_top_value = torch.softmax(router_top_value, dim=-1)\n"),
    # the softmax over float32 scores is a float32 softmax, cast first or asked for by dtype
    ("llama", "nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32)",
     "nn.functional.softmax(attn_weights.float(), dim=-1)"),
    # the scale through the prelude's MLA helper is its argument under the default RoPE
    ("deepseek_v3", "yarn_apply_mscale(config.rope_parameters, self.qk_head_dim ** (-0.5))", "self.qk_head_dim ** (-0.5)"),
])
def test_same_math_other_code_no_differing_fact(model_type, old, new):
    assert _facts_of(model_type, old, new) == _facts_of(model_type)


def test_tables_sliced_for_interleaved_pairs_still_rotate_the_whole_head():
    # Helium lays cos/sin out for adjacent pairs by slicing the tables, not q/k
    sin = "    sin = sin.unsqueeze(unsqueeze_dim)\n"
    spread = sin + ("    cos = cos[..., : cos.shape[-1] // 2].repeat_interleave(2, dim=-1)\n"
                    "    sin = sin[..., : sin.shape[-1] // 2].repeat_interleave(2, dim=-1)\n")
    assert _facts_of("llama", sin, spread)["pos.rotary_fraction"] == "full"
    sliced = sin + "    q, q_pass = q[..., :32], q[..., 32:]\n"
    assert _facts_of("llama", sin, sliced)["pos.rotary_fraction"] == "partial"  # q itself sliced: partial


def test_a_router_that_does_not_renormalise_still_differs():
    renormalised = _facts_of("mixtral")
    plain = _facts_of("mixtral", "        router_top_value /= router_top_value.sum(dim=-1, keepdim=True)\n", "")
    assert renormalised["moe.norm_topk"] is True and plain["moe.norm_topk"] is False  # a check that can fail


def test_autocast_plumbing_is_folded_to_a_precision_fact():
    r = reduce_source(resolve("nemotron"))
    assert "autocast" not in r.code  # the LayerNorm1P reads as the plain computation
    assert "F.layer_norm(input, self.normalized_shape, self.weight + 1.0, self.bias, self.eps)" in r.code
    assert read("nemotron")["precision.autocast_off"].value == "norm"
    assert read("llama")["precision.autocast_off"].value == "none"


LLAMA_LAYER = ("        hidden_states = hidden_states + self.self_attn(\n"
               "            self.input_layernorm(hidden_states), position_embeddings, attention_mask)\n"
               "        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))\n")


@pytest.mark.parametrize("layer,placement", [
    # the residual kept apart before the norm (4.x Llama's spelling): pre-norm as before
    ("        residual = hidden_states\n        hidden_states = self.input_layernorm(hidden_states)\n"
     "        hidden_states = self.self_attn(hidden_states, position_embeddings, attention_mask)\n"
     "        hidden_states = residual + hidden_states\n"
     "        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))\n", "pre"),
    # the residual taken after the norm, added back scaled (MiniMax): the stream itself is normed
    ("        hidden_states = self.input_layernorm(hidden_states)\n        residual = hidden_states\n"
     "        hidden_states = self.self_attn(hidden_states, position_embeddings, attention_mask)\n"
     "        hidden_states = residual * 0.5 + hidden_states * 2.0\n"
     "        hidden_states = self.post_attention_layernorm(hidden_states)\n"
     "        return hidden_states + self.mlp(hidden_states)\n", "post"),
    # the same without the alias: x = norm(x); x = x + attn(x)
    ("        hidden_states = self.input_layernorm(hidden_states)\n"
     "        hidden_states = hidden_states + self.self_attn(hidden_states, position_embeddings, attention_mask)\n"
     "        hidden_states = self.post_attention_layernorm(hidden_states)\n"
     "        return hidden_states + self.mlp(hidden_states)\n", "post"),
])
def test_a_norm_on_the_residual_stream_is_post_norm(layer, placement):
    assert _facts_of("llama", LLAMA_LAYER, layer)["block.norm_placement"] == placement


def test_scores_never_scaled_are_a_custom_scale():
    plain = "attn_weights = torch.matmul(query, key.transpose(-1, -2))\n"
    assert _facts_of("gpt_neo")["attn.scale"] == "custom"  # GPT-Neo: q·k with no 1/√d
    scaled = _facts_of("gpt_neo", plain, "attn_weights = torch.matmul(query, key.transpose(-1, -2)) / self.head_dim ** 0.5\n")
    assert scaled["attn.scale"] == "head_dim"


def test_a_band_mask_built_per_layer_type_is_a_per_layer_window():
    band = '        if attention_type == "local":\n            bias = torch.bitwise_xor(bias, torch.tril(bias, -config.window_size))\n'
    assert _facts_of("gpt_neo")["attn.sliding_window"] == "per_layer"
    assert _facts_of("gpt_neo", band, "")["attn.sliding_window"] == "none"


def test_a_softmax_upcast_only_in_float16_is_not_float32():
    softmax = "    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)\n"
    half_only = ("    if attn_weights.dtype == torch.float16:\n"
                 "        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(torch.float16)\n"
                 "    else:\n        attn_weights = nn.functional.softmax(attn_weights, dim=-1)\n")
    assert _facts_of("llama")["precision.softmax_float32"] is True
    assert _facts_of("llama", softmax, half_only)["precision.softmax_float32"] is False


@pytest.mark.parametrize("model_type,old,new", [
    # gate and up interleaved (GPT-OSS's ::2 / 1::2) or in halves: the same gated MLP, another weight layout
    ("gpt_oss", "gate, up = gate_up[..., ::2], gate_up[..., 1::2]", "gate, up = gate_up.chunk(2, dim=-1)"),
    # a bias written at the call (the class's parameter default no call changes, read as its value), or torch's default
    ("xglm", "self.k_proj = nn.Linear(embed_dim, embed_dim, bias=True)", "self.k_proj = nn.Linear(embed_dim, embed_dim)"),
    # the MoE's switch `num_local_experts > 0` settled by the default: every layer, as a plain MoE block is
    ("granitemoehybrid", "GraniteMoeHybridMoE(config) if config.num_local_experts > 0 else None",
     "GraniteMoeHybridMoE(config)"),
])
def test_same_math_other_layout_no_differing_fact(model_type, old, new):
    assert _facts_of(model_type, old, new) == _facts_of(model_type)


def test_new_lineages_read_through_their_code():
    assert _facts_of("xglm")["pos.kind"] == "sinusoidal"  # a fixed sin/cos table, not a learned one
    assert _facts_of("granitemoehybrid")["pos.kind"] == "none"  # rotary_emb = None by default
    assert _facts_of("smollm3")["pos.layers"] == "per_layer" and _facts_of("llama")["pos.layers"] == "all"
    oss = _facts_of("gpt_oss")
    assert (oss["mlp.moe"], oss["mlp.gated"], oss["mlp.activation"]) == (True, True, "quick_gelu")
    assert (_facts_of("lfm2")["mixer.kind"], _facts_of("recurrent_gemma")["mixer.kind"]) == ("conv", "linear_recurrence")
    assert "linear_recurrence" not in _facts_of("qwen4_exp")["layers.kinds"]  # its per-layer embedding's conv is no mixer


def test_an_moe_block_named_neither_moe_nor_mlp_is_read_by_its_router_and_stacked_experts():
    import dataclasses

    from archread.diff.align import facts_of
    src = resolve("mixtral")
    renamed = src.text.replace("MixtralSparseMoeBlock", "MixtralFeedForward").replace(
        "MixtralExperts", "MixtralBank").replace("MixtralTopKRouter", "MixtralPicker")
    found = {f.key: f.value for f in facts_of(reduce_source(dataclasses.replace(src, text=renamed)))}
    assert (found.get("mlp.moe"), found.get("moe.experts"), found.get("moe.top_k")) == (True, 8, 2)
