import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rcgpt import RcGPTConfig


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=config.norm_eps)
        self.k_norm = nn.LayerNorm(self.head_dim, eps=config.norm_eps)

    def forward(self, x, bias):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q = self.q_norm(q.view(b, t, self.n_head, self.head_dim)).transpose(1, 2)
        k = self.k_norm(k.view(b, t, self.n_head, self.head_dim)).transpose(1, 2)
        v = v.view(b, t, self.n_head, self.head_dim).transpose(1, 2)
        att = F.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_dim)) + bias, dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn = SelfAttention(config)
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.norm_eps)
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_out = nn.Linear(4 * config.n_embd, config.n_embd)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.norm_eps)

    def forward(self, x, bias):
        x = self.ln_1(x + self.attn(x, bias))
        return self.ln_2(x + self.c_out(F.relu(self.c_fc(x)).square()))


class RcGPTPreTrainedModel(PreTrainedModel):
    config_class = RcGPTConfig
    base_model_prefix = "transformer"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)


class RcGPTModel(RcGPTPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.scale = math.sqrt(config.n_embd)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        x = self.wte(input_ids) * self.scale
        t = input_ids.shape[1]
        keep = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        bias = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        for block in self.h:
            x = block(x, bias)
        return x


class RcGPTLMHeadModel(RcGPTPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = RcGPTModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, labels=None):
        return CausalLMOutput(logits=self.lm_head(self.transformer(input_ids, attention_mask)))
