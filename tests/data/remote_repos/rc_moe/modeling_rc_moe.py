import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rc_moe import RcMoeConfig
from .experts import SparseMoe


class RcMoeRMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class RcMoeAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=True)
        self.out = nn.Linear(config.hidden_size, config.hidden_size, bias=True)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        return self.out((torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, -1))


class RcMoeBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm1 = RcMoeRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn = RcMoeAttention(config)
        self.norm2 = RcMoeRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.moe = SparseMoe(config)

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.moe(self.norm2(x))


class RcMoePreTrainedModel(PreTrainedModel):
    config_class = RcMoeConfig
    base_model_prefix = "model"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)


class RcMoeModel(RcMoePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.blocks = nn.ModuleList([RcMoeBlock(config) for _ in range(config.num_hidden_layers)])
        self.norm = RcMoeRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.tokens

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        x = self.tokens(input_ids) + self.positions(torch.arange(t, device=input_ids.device))[None]
        keep = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class RcMoeForCausalLM(RcMoePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcMoeModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.tokens

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids, attention_mask=None, labels=None):
        return CausalLMOutput(logits=self.lm_head(self.model(input_ids, attention_mask)))
