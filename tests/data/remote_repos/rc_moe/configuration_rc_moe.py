"""archread's own remote-code test model: a mixture of experts in a sibling module, top-k routing with
renormalised weights, learned absolute positions, fused biased qkv."""

from transformers import PretrainedConfig


class RcMoeConfig(PretrainedConfig):
    model_type = "rc_moe"

    def __init__(self, vocab_size=96, hidden_size=64, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 num_experts=4, num_experts_per_tok=2, max_position_embeddings=64, rms_norm_eps=1e-6, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_experts = num_experts
        self.num_experts_per_tok = num_experts_per_tok
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        super().__init__(**kwargs)
