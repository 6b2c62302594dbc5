"""archread's own remote-code test model: positions read off where the prompt's special tokens sit (a `[gMASK]` id
the code writes as a literal, then the configuration's bos), as early ChatGLM does; it refuses input without them."""

from transformers import PretrainedConfig


class RcPrefixConfig(PretrainedConfig):
    model_type = "rc_prefix"

    def __init__(self, vocab_size=320, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=64, layer_norm_eps=1e-5, bos_token_id=300, eos_token_id=301, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.layer_norm_eps = layer_norm_eps
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
