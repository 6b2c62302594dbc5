"""A remote-code style model written for archread's tests: absolute transformers imports, einops, an optional fused kernel."""
import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from einops import rearrange
from torch import nn
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import is_flash_attn_2_available, logging

from .configuration_foo import FooConfig

if is_flash_attn_2_available():
    from flash_attn import flash_attn_func

try:
    from fused_kernels import fused_rms_norm
except ImportError:
    fused_rms_norm = None

logger = logging.get_logger(__name__)

_CONFIG_FOR_DOC = "FooConfig"


class FooRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        if fused_rms_norm is not None and hidden_states.is_cuda:
            return fused_rms_norm(hidden_states, self.weight, self.variance_epsilon)
        variance = hidden_states.float().pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(self.weight.dtype)


@torch.jit.script
def swiglu(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return F.silu(a) * b


class FooAttention(nn.Module):
    def __init__(self, config: FooConfig):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        self.wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.wo = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def forward(self, hidden_states, attention_mask=None, past_key_value=None, output_attentions=False, use_cache=False):
        bsz, q_len, _ = hidden_states.size()
        qkv = rearrange(self.wqkv(hidden_states), "b q (three h d) -> three b h q d", three=3, d=self.head_dim)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if past_key_value is not None:
            k = torch.cat([past_key_value[0], k], dim=2)
            v = torch.cat([past_key_value[1], v], dim=2)
        past_key_value = (k, v) if use_cache else None
        if self.config._attn_implementation == "flash_attention_2":
            out = flash_attn_func(q, k, v, causal=True)
        else:
            w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
            if attention_mask is not None:
                w = w + attention_mask
            w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            out = torch.matmul(w, v)
        out = rearrange(out, "b h q d -> b q (h d)")
        out = self.wo(out)
        if not output_attentions:
            w = None
        return out, w, past_key_value


class FooMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.w13 = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        return self.w2(swiglu(self.w13(x)))


class FooLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = FooAttention(config)
        self.feed_forward = FooMLP(config)
        self.attention_norm = FooRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.ffn_norm = FooRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden_states, attention_mask=None, past_key_value=None, output_attentions=False, use_cache=False):
        residual = hidden_states
        hidden_states = self.attention_norm(hidden_states)
        hidden_states, attn, present = self.attention(hidden_states, attention_mask, past_key_value, output_attentions, use_cache)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = residual + self.feed_forward(self.ffn_norm(hidden_states))
        outputs = (hidden_states,)
        if output_attentions:
            outputs += (attn,)
        if use_cache:
            outputs += (present,)
        return outputs


class FooPreTrainedModel(PreTrainedModel):
    config_class = FooConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)


class FooModel(FooPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([FooLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = FooRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, past_key_values=None, inputs_embeds=None, use_cache=None,
                output_attentions=None, output_hidden_states=None, return_dict=None):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("You cannot specify both")
        elif input_ids is not None:
            batch_size, seq_length = input_ids.shape[:2]
        elif inputs_embeds is not None:
            batch_size, seq_length = inputs_embeds.shape[:2]
        else:
            raise ValueError("You have to specify either")
        if inputs_embeds is None:
            inputs_embeds = self.tok_embeddings(input_ids)
        mask = torch.full((seq_length, seq_length), float("-inf"), device=inputs_embeds.device).triu(1)
        hidden_states = inputs_embeds
        all_hidden_states = () if output_hidden_states else None
        next_cache = () if use_cache else None
        for idx, layer in enumerate(self.layers):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            past = past_key_values[idx] if past_key_values is not None else None
            if self.gradient_checkpointing and self.training:
                layer_outputs = torch.utils.checkpoint.checkpoint(layer, hidden_states, mask, past)
            else:
                layer_outputs = layer(hidden_states, mask, past, output_attentions, use_cache)
            hidden_states = layer_outputs[0]
            if use_cache:
                next_cache += (layer_outputs[2 if output_attentions else 1],)
        hidden_states = self.norm(hidden_states)
        if not return_dict:
            return tuple(v for v in [hidden_states, next_cache, all_hidden_states] if v is not None)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, past_key_values=next_cache)


class FooForCausalLM(FooPreTrainedModel):
    _tied_weights_keys = ["output.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.model = FooModel(config)
        self.output = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, past_key_values=None, inputs_embeds=None, labels=None,
                use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        return_dict = return_dict if return_dict is not None else self.config.use_return_dict
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=past_key_values,
                             inputs_embeds=inputs_embeds, use_cache=use_cache, output_attentions=output_attentions,
                             output_hidden_states=output_hidden_states, return_dict=return_dict)
        hidden_states = outputs[0]
        logits = self.output(hidden_states).float()
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[..., :-1, :].reshape(-1, logits.size(-1)), labels[..., 1:].reshape(-1))
        if not return_dict:
            output = (logits,) + outputs[1:]
            return (loss,) + output if loss is not None else output
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=outputs.past_key_values)
