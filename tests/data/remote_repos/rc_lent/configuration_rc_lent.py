"""archread's own remote-code test model whose MLP and norm subclass transformers' Gemma classes. Their code
differs between releases: 4.41.2's GemmaMLP ignores `hidden_act` and takes tanh-GELU while `hidden_activation`
is unset; 5.x's takes `hidden_act` (exact GELU). The original runs under 4.41.2, the release config.json names."""

from transformers.configuration_utils import PretrainedConfig


class RcLentConfig(PretrainedConfig):
    model_type = "rc_lent"

    def __init__(self, vocab_size=96, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                 num_hidden_layers=2, rms_norm_eps=1e-6, hidden_act="gelu", hidden_activation=None, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_attention_heads = num_attention_heads
        self.num_hidden_layers = num_hidden_layers
        self.rms_norm_eps = rms_norm_eps
        self.hidden_act = hidden_act
        self.hidden_activation = hidden_activation
        super().__init__(**kwargs)
