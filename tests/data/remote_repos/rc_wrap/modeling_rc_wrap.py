"""A wrapper as vision-language repos write one: transformers' own LlamaForCausalLM built as a member (imported
from the top-level package, not from its modeling file), its logits scaled; the math of a sibling that
star-imports torch's functional module."""

from transformers import LlamaForCausalLM, LlamaPreTrainedModel

from .configuration_rc_wrap import RcWrapConfig
from .rc_wrap_ops import scaled


class RcWrapForCausalLM(LlamaPreTrainedModel):
    config_class = RcWrapConfig

    def __init__(self, config):
        super().__init__(config)
        self.llm = LlamaForCausalLM(config)
        self.logit_scale = config.logit_scale
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        logits = self.llm(input_ids=input_ids, attention_mask=attention_mask).logits
        return scaled(logits, self.logit_scale)
