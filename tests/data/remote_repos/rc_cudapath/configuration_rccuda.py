"""archread's own remote-code test model whose checkpoint chose a CUDA-only path: its config.json sets
`packed_bits=8` (a kernel that allocates on the GPU), the configuration's default 32 is plain nn.Linear (Moss's
`wbits`). Ungated GELU MLP blocks, post-norm, no attention: the path choice is what it tests."""

from transformers import PretrainedConfig


class RcCudaConfig(PretrainedConfig):
    model_type = "rccuda"

    def __init__(self, vocab_size=96, hidden_size=64, num_layers=2, packed_bits=32, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.packed_bits = packed_bits
        super().__init__(**kwargs)
