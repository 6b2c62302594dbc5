import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from configuration_rc_flat import RcFlatConfig
from rc_flat_layers import RcMLP, RcRMSNorm, rotate
from rc_flat_quant import TernaryLinear


class RcAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.q = nn.Linear(config.hidden_size, self.heads * self.head_dim, bias=False)
        self.k = nn.Linear(config.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.v = nn.Linear(config.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.o = TernaryLinear(self.heads * self.head_dim, config.hidden_size, bias=False)
        inv = 1.0 / (config.rope_theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        freqs = torch.arange(t, device=x.device).float()[:, None] * self.inv_freq[None]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()
        q, k = q * cos + rotate(q) * sin, k * cos + rotate(k) * sin
        k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
        v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        out = torch.softmax(scores.float(), -1).to(q.dtype) @ v
        return self.o(out.transpose(1, 2).reshape(b, t, -1))


class RcBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn_norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn = RcAttention(config)
        self.mlp_norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = RcMLP(config)

    def forward(self, x, mask):
        x = x + self.attn(self.attn_norm(x), mask)
        return x + self.mlp(self.mlp_norm(x))


class RcPreTrainedModel(PreTrainedModel):
    config_class = RcFlatConfig
    base_model_prefix = "model"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)


class RcFlatModel(RcPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList([RcBlock(config) for _ in range(config.num_hidden_layers)])
        self.norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        x = self.embed(input_ids)
        t = input_ids.shape[1]
        keep = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class RcFlatForCausalLM(RcPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcFlatModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.lm_head(self.model(input_ids, attention_mask))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
        return CausalLMOutput(loss=loss, logits=logits)
