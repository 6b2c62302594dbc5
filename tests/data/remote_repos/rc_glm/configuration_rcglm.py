"""archread's own remote-code test model, after the ChatGLM repos: sequence-first layout, the layers in a
sibling file, rotary on half of each head in interleaved pairs, grouped keys, and modules built in config.torch_dtype."""

from transformers import PretrainedConfig


class RcGLMConfig(PretrainedConfig):
    model_type = "rcglm"

    def __init__(self, num_layers=2, padded_vocab_size=96, hidden_size=64, ffn_hidden_size=96, kv_channels=16,
                 num_attention_heads=4, multi_query_group_num=2, layernorm_epsilon=1e-5, **kwargs):
        self.num_layers = num_layers
        self.vocab_size = padded_vocab_size
        self.padded_vocab_size = padded_vocab_size
        self.hidden_size = hidden_size
        self.ffn_hidden_size = ffn_hidden_size
        self.kv_channels = kv_channels
        self.num_attention_heads = num_attention_heads
        self.multi_query_group_num = multi_query_group_num
        self.layernorm_epsilon = layernorm_epsilon
        super().__init__(**kwargs)
