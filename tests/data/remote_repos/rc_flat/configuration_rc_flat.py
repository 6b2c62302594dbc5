"""archread's own remote-code test model: a flat repo (no __init__.py) whose files import each other by absolute name, as its folder is on sys.path."""

from transformers import PretrainedConfig


class RcFlatConfig(PretrainedConfig):
    model_type = "rc_flat"

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
