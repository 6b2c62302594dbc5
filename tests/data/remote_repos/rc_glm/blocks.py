import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, size, eps=1e-5, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size, device=device, dtype=dtype))
        self.eps = eps

    def forward(self, hidden_states):
        variance = hidden_states.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.eps)).to(hidden_states.dtype)


def apply_rotary_pos_emb(x, rope_cache):
    # x: [s, b, heads, head_dim]; rope_cache: [s, rot_dim / 2, 2] — the first half of each head rotates, in pairs
    rot_dim = rope_cache.shape[-2] * 2
    x, x_pass = x[..., :rot_dim], x[..., rot_dim:]
    pairs = x.reshape(*x.shape[:-1], rot_dim // 2, 2)
    cache = rope_cache[:, None, None]
    out = torch.stack((pairs[..., 0] * cache[..., 0] - pairs[..., 1] * cache[..., 1],
                       pairs[..., 1] * cache[..., 0] + pairs[..., 0] * cache[..., 1]), -1)
    return torch.cat((out.flatten(3), x_pass), dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, config, device=None):
        super().__init__()
        self.heads = config.num_attention_heads
        self.groups = config.multi_query_group_num
        self.head_dim = config.kv_channels
        width = (self.heads + 2 * self.groups) * self.head_dim
        self.query_key_value = nn.Linear(config.hidden_size, width, bias=True, device=device, dtype=config.torch_dtype)
        self.dense = nn.Linear(self.heads * self.head_dim, config.hidden_size, bias=False, device=device,
                               dtype=config.torch_dtype)

    def forward(self, hidden_states, attention_mask, rotary_pos_emb, kv_cache=None, use_cache=True):
        s, b, _ = hidden_states.shape
        q, k, v = self.query_key_value(hidden_states).split(
            [self.heads * self.head_dim, self.groups * self.head_dim, self.groups * self.head_dim], dim=-1)
        q = apply_rotary_pos_emb(q.view(s, b, self.heads, self.head_dim), rotary_pos_emb)
        k = apply_rotary_pos_emb(k.view(s, b, self.groups, self.head_dim), rotary_pos_emb)
        v = v.view(s, b, self.groups, self.head_dim)
        q, k, v = (t.permute(1, 2, 0, 3) for t in (q, k, v))
        k = k.repeat_interleave(self.heads // self.groups, dim=1)
        v = v.repeat_interleave(self.heads // self.groups, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
        return self.dense(out.permute(2, 0, 1, 3).reshape(s, b, -1)), kv_cache


class MLP(nn.Module):
    def __init__(self, config, device=None):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, 2 * config.ffn_hidden_size, bias=False, device=device,
                                       dtype=config.torch_dtype)
        self.dense_4h_to_h = nn.Linear(config.ffn_hidden_size, config.hidden_size, bias=False, device=device,
                                       dtype=config.torch_dtype)

    def forward(self, hidden_states):
        gate, up = self.dense_h_to_4h(hidden_states).chunk(2, dim=-1)
        return self.dense_4h_to_h(F.silu(gate) * up)


class GLMBlock(nn.Module):
    def __init__(self, config, layer_number, device=None):
        super().__init__()
        self.layer_number = layer_number
        self.input_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon, device=device, dtype=config.torch_dtype)
        self.self_attention = SelfAttention(config, device=device)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon, device=device,
                                                dtype=config.torch_dtype)
        self.mlp = MLP(config, device=device)

    def forward(self, hidden_states, attention_mask, rotary_pos_emb, kv_cache=None, use_cache=True):
        attention_output, kv_cache = self.self_attention(self.input_layernorm(hidden_states), attention_mask,
                                                         rotary_pos_emb, kv_cache=kv_cache, use_cache=use_cache)
        hidden_states = hidden_states + attention_output
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states)), kv_cache
