"""archread's own remote-code test model: a hybrid stack whose few attention layers sit at an offset and period
(attention only from the 4th layer on), the rest gated causal convolutions that ask for a fused kernel by default."""

from transformers import PretrainedConfig


class RcHybridConfig(PretrainedConfig):
    model_type = "rc_hybrid"

    def __init__(self, vocab_size=96, hidden_size=64, num_hidden_layers=8, num_attention_heads=4, attn_layer_offset=3,
                 attn_layer_period=4, conv_kernel=4, use_fast_kernels=True, rms_norm_eps=1e-6, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.attn_layer_offset = attn_layer_offset
        self.attn_layer_period = attn_layer_period
        self.conv_kernel = conv_kernel
        self.use_fast_kernels = use_fast_kernels
        self.rms_norm_eps = rms_norm_eps
        super().__init__(**kwargs)
