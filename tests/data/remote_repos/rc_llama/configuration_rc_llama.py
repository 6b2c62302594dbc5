"""archread's own remote-code test model: a Llama-style decoder whose layers live in a sibling file."""

from transformers import PretrainedConfig


class RcLlamaConfig(PretrainedConfig):
    model_type = "rc_llama"

    def __init__(self, vocab_size=96, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0, rms_norm_eps=1e-6, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.rope_theta = rope_theta
        self.rms_norm_eps = rms_norm_eps
        super().__init__(**kwargs)
