import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rc_prefix import RcPrefixConfig


class RcPrefixAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        return self.out((torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, -1))


class RcPrefixBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attn = RcPrefixAttention(config)
        self.ln2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = nn.Sequential(nn.Linear(config.hidden_size, 4 * config.hidden_size), nn.GELU(),
                                 nn.Linear(4 * config.hidden_size, config.hidden_size))

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class RcPrefixPreTrainedModel(PreTrainedModel):
    config_class = RcPrefixConfig
    base_model_prefix = "transformer"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)


class RcPrefixModel(RcPrefixPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.blocks = nn.ModuleList([RcPrefixBlock(config) for _ in range(config.num_hidden_layers)])
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_positions(self, seq, device):
        MASK, gMASK = 310, 311
        mask_position = seq.index(MASK if MASK in seq else gMASK)
        context_length = seq.index(self.config.bos_token_id)
        if context_length < mask_position:
            raise ValueError("the prompt must end with [gMASK] then <bos>")
        position_ids = torch.arange(len(seq), device=device)
        position_ids[context_length:] = mask_position
        return position_ids

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        position_ids = self.get_positions(input_ids[0].tolist(), input_ids.device)
        x = self.tokens(input_ids) + self.positions(position_ids)[None]
        keep = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)


class RcPrefixForCausalLM(RcPrefixPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.transformer = RcPrefixModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.transformer.tokens

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.lm_head(self.transformer(input_ids, attention_mask))
        return CausalLMOutput(logits=logits)
