import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_rccuda import RcCudaConfig


class PackedLinear(nn.Module):
    """A stand-in for a GPU-only quantized kernel: its output is allocated on the GPU."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_out, n_in))

    def forward(self, x):
        out = torch.empty(*x.shape[:-1], self.weight.shape[0], device="cuda")
        return out.copy_(x @ self.weight.t())


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        if config.packed_bits in [4, 8]:
            self.up = PackedLinear(config.hidden_size, 2 * config.hidden_size)
        else:
            self.up = nn.Linear(config.hidden_size, 2 * config.hidden_size)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, x):
        return self.norm(x + self.down(F.gelu(self.up(x))))


class RcCudaPreTrainedModel(PreTrainedModel):
    config_class = RcCudaConfig
    base_model_prefix = "model"


class RcCudaForCausalLM(RcCudaPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.num_layers)])
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        return CausalLMOutput(logits=self.lm_head(x))
