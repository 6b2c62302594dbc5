"""archread's own remote-code test model that imports itself by the name of its authors' checkout
(`rcself_model`), ships no config.json, and holds two classes over the LM logits: generation and a choice
head that gathers from them. Tied embeddings, pre-norm blocks, a SiLU MLP."""

from transformers import PretrainedConfig


class RcSelfConfig(PretrainedConfig):
    model_type = "rcself"

    def __init__(self, vocab_size=96, hidden_size=64, num_layers=2, num_heads=4, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        super().__init__(**kwargs)
