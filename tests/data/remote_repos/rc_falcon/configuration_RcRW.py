"""archread's own remote-code test model, after the early Falcon repos: British file name, a configuration whose
fields are named its own way, no AutoConfig in auto_map (the modeling file's import names it)."""

from transformers.configuration_utils import PretrainedConfig


class RcRWConfig(PretrainedConfig):
    model_type = "rc_rw"
    attribute_map = {"num_hidden_layers": "n_layer", "num_attention_heads": "n_head"}

    def __init__(self, vocab_size=96, hidden_size=64, n_layer=2, n_head=4, layer_norm_epsilon=1e-5,
                 parallel_attn=True, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.n_layer = n_layer
        self.n_head = n_head
        self.layer_norm_epsilon = layer_norm_epsilon
        self.parallel_attn = parallel_attn
        super().__init__(**kwargs)

    @property
    def head_dim(self):
        return self.hidden_size // self.n_head
