import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rc_hybrid import RcHybridConfig

try:
    from rc_fused_conv import fused_gated_conv, fused_gated_conv_update
except ImportError:
    fused_gated_conv, fused_gated_conv_update = None, None

is_fast_path_available = all((fused_gated_conv, fused_gated_conv_update))


class RcHybridRMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class RcHybridAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.out = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        return self.out((torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, -1))


class RcHybridConv(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.use_fast = config.use_fast_kernels
        self.in_proj = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=False)
        self.conv = nn.Conv1d(config.hidden_size, config.hidden_size, config.conv_kernel, groups=config.hidden_size,
                              padding=config.conv_kernel - 1)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def slow_forward(self, x):
        h, gate = self.in_proj(x).chunk(2, dim=-1)
        h = self.conv(h.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
        return self.out_proj(nn.functional.silu(h) * torch.sigmoid(gate))

    def forward(self, x):
        if self.use_fast:
            if not is_fast_path_available or not x.is_cuda:
                raise ValueError("the fused kernels are not available: set use_fast_kernels=False")
            return fused_gated_conv(x, self.in_proj.weight, self.conv.weight, self.out_proj.weight)
        return self.slow_forward(x)


class RcHybridBlock(nn.Module):
    def __init__(self, config, is_attention):
        super().__init__()
        self.is_attention = is_attention
        self.norm = RcHybridRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mixer = RcHybridAttention(config) if is_attention else RcHybridConv(config)

    def forward(self, x, mask):
        h = self.norm(x)
        return x + (self.mixer(h, mask) if self.is_attention else self.mixer(h))


class RcHybridPreTrainedModel(PreTrainedModel):
    config_class = RcHybridConfig
    base_model_prefix = "model"

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)


class RcHybridModel(RcHybridPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        kinds = [(i - config.attn_layer_offset) % config.attn_layer_period == 0 for i in range(config.num_hidden_layers)]
        if not any(kinds):
            raise ValueError("At least one layer must be an attention layer")
        self.blocks = nn.ModuleList([RcHybridBlock(config, kind) for kind in kinds])
        self.norm = RcHybridRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        x = self.tokens(input_ids)
        keep = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            keep = keep & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class RcHybridForCausalLM(RcHybridPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcHybridModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.tokens

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.lm_head(self.model(input_ids, attention_mask))
        return CausalLMOutput(logits=logits)
