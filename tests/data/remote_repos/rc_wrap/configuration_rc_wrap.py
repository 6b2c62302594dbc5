"""A wrapper's configuration: transformers' Llama fields, and one of its own."""

from transformers import LlamaConfig


class RcWrapConfig(LlamaConfig):
    model_type = "rc_wrap"

    def __init__(self, logit_scale=1.0, **kwargs):
        self.logit_scale = logit_scale
        super().__init__(**kwargs)
