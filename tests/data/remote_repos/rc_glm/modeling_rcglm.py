import torch
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel

from .blocks import GLMBlock, RMSNorm
from .configuration_rcglm import RcGLMConfig


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, dtype=None):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).to(dtype=dtype) / dim)))

    def forward(self, seq_len):
        theta = torch.outer(torch.arange(seq_len, dtype=self.inv_freq.dtype), self.inv_freq)
        return torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)


class RcGLMPreTrainedModel(PreTrainedModel):
    config_class = RcGLMConfig
    base_model_prefix = "transformer"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)


class RcGLMTransformer(RcGLMPreTrainedModel):
    def __init__(self, config, device=None):
        super().__init__(config)
        self.embedding = nn.Embedding(config.padded_vocab_size, config.hidden_size, dtype=config.torch_dtype, device=device)
        self.rotary_pos_emb = RotaryEmbedding(config.kv_channels // 2, dtype=config.torch_dtype)
        self.layers = nn.ModuleList([GLMBlock(config, i + 1, device=device) for i in range(config.num_layers)])
        self.final_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon, device=device, dtype=config.torch_dtype)
        self.output_layer = nn.Linear(config.hidden_size, config.padded_vocab_size, bias=False, dtype=config.torch_dtype,
                                      device=device)

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        b, s = input_ids.shape
        hidden_states = self.embedding(input_ids).transpose(0, 1).contiguous()  # [s, b, h]
        keep = torch.ones(s, s, dtype=torch.bool, device=input_ids.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=hidden_states.dtype).masked_fill(~keep, torch.finfo(hidden_states.dtype).min)
        rotary_pos_emb = self.rotary_pos_emb(s)
        for layer in self.layers:
            hidden_states, _ = layer(hidden_states, mask, rotary_pos_emb, use_cache=use_cache)
        return self.final_layernorm(hidden_states)


class RcGLMForConditionalGeneration(RcGLMPreTrainedModel):
    def __init__(self, config, empty_init=True, device=None):
        super().__init__(config)
        self.transformer = RcGLMTransformer(config, device=device)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, labels=None, use_cache=None, return_dict=None):
        hidden_states = self.transformer(input_ids, attention_mask, use_cache=use_cache)
        logits = self.transformer.output_layer(hidden_states).transpose(0, 1).contiguous()
        return CausalLMOutputWithPast(logits=logits)
