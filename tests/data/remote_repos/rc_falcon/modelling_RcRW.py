import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithCrossAttentions
from transformers.modeling_utils import PreTrainedModel

from .configuration_RcRW import RcRWConfig


class RotaryEmbedding(nn.Module):
    def __init__(self, head_dim, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, q, k):
        t = torch.arange(q.shape[-2], device=q.device).type_as(self.inv_freq)
        emb = torch.cat((torch.outer(t, self.inv_freq),) * 2, dim=-1)
        cos, sin = emb.cos(), emb.sin()
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    """Multi-query: one fused projection gives every query head and a single shared key and value head."""

    def __init__(self, config: RcRWConfig):
        super().__init__()
        self.num_heads = config.n_head
        self.head_dim = config.head_dim
        self.query_key_value = nn.Linear(config.hidden_size, config.hidden_size + 2 * self.head_dim, bias=False)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.maybe_rotary = RotaryEmbedding(self.head_dim)
        self.inv_norm_factor = 1.0 / math.sqrt(self.head_dim)

    def forward(self, hidden_states, attention_mask, use_cache=False):
        b, t, _ = hidden_states.shape
        fused = self.query_key_value(hidden_states).view(b, t, self.num_heads + 2, self.head_dim)
        q = fused[:, :, :-2].transpose(1, 2)
        k = fused[:, :, -2:-1].transpose(1, 2)
        v = fused[:, :, -1:].transpose(1, 2)
        q, k = self.maybe_rotary(q, k)
        scores = q @ k.transpose(-1, -2) * self.inv_norm_factor + attention_mask
        out = F.softmax(scores, dim=-1) @ v
        return self.dense(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, 4 * config.hidden_size, bias=False)
        self.act = nn.GELU()
        self.dense_4h_to_h = nn.Linear(4 * config.hidden_size, config.hidden_size, bias=False)

    def forward(self, x):
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(x)))


class DecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.self_attention = Attention(config)
        self.mlp = MLP(config)
        self.parallel_attn = config.parallel_attn
        if not self.parallel_attn:
            self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)

    def forward(self, hidden_states, attention_mask, use_cache=False):
        ln = self.input_layernorm(hidden_states)
        attn = self.self_attention(ln, attention_mask, use_cache=use_cache)
        if self.parallel_attn:
            return hidden_states + attn + self.mlp(ln)
        hidden_states = hidden_states + attn
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))


class RcRWPreTrainedModel(PreTrainedModel):
    config_class = RcRWConfig
    base_model_prefix = "transformer"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)


class RcRWModel(RcRWPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.h = nn.ModuleList([DecoderLayer(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        hidden_states = self.word_embeddings(input_ids)
        t = input_ids.shape[1]
        keep = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=hidden_states.dtype).masked_fill(~keep, torch.finfo(hidden_states.dtype).min)
        for block in self.h:
            hidden_states = block(hidden_states, mask, use_cache=use_cache)
        return self.ln_f(hidden_states)


class RcRWForCausalLM(RcRWPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = RcRWModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, labels=None, use_cache=None, return_dict=None):
        logits = self.lm_head(self.transformer(input_ids, attention_mask, use_cache=use_cache))
        return CausalLMOutputWithCrossAttentions(logits=logits)
