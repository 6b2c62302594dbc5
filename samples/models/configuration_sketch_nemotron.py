"""The configuration of the sketch sketch_nemotron (archread's own sample): only the fields its modeling file reads."""


class SketchNemotronConfig:
    model_type = "sketch_nemotron"

    def __init__(self, vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, norm_eps=1e-5, partial_rotary_factor=0.5, rope_theta=10000.0,
                 hidden_act="relu2"):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.norm_eps = norm_eps
        self.partial_rotary_factor = partial_rotary_factor
        self.rope_theta = rope_theta
        self.hidden_act = hidden_act
