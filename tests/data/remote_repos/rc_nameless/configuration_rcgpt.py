"""archread's own remote-code test model with no auto_map: the root is read off the code (an LM-head class no
other class builds), the configuration off the modeling file's import. Post-norm blocks, a norm on each query and
key head, an ungated relu² MLP and embeddings scaled by sqrt(width)."""

from transformers import PretrainedConfig


class RcGPTConfig(PretrainedConfig):
    model_type = "rcgpt"

    def __init__(self, vocab_size=96, n_embd=64, n_layer=2, n_head=4, norm_eps=1e-5, **kwargs):
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.norm_eps = norm_eps
        super().__init__(**kwargs)
