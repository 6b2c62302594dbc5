import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from rcself_model.configuration_rcself import RcSelfConfig


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_heads
        self.norm_1 = nn.LayerNorm(config.hidden_size)
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm_2 = nn.LayerNorm(config.hidden_size)
        self.up = nn.Linear(config.hidden_size, 2 * config.hidden_size)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size)

    def forward(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm_1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.out(att.transpose(1, 2).reshape(b, t, c))
        return x + self.down(F.silu(self.up(self.norm_2(x))))


class RcSelfPreTrainedModel(PreTrainedModel):
    config_class = RcSelfConfig
    base_model_prefix = "model"


class RcSelfModel(RcSelfPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([Block(config) for _ in range(config.num_layers)])
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        x = self.word_embeddings(input_ids)
        t = input_ids.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask[:, None, None, :].bool()
        for layer in self.layers:
            x = layer(x, mask)
        return F.linear(x, self.word_embeddings.weight)


class RcSelfForConditionalGeneration(RcSelfPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcSelfModel(config)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        return CausalLMOutput(logits=self.model(input_ids, attention_mask))


class RcSelfForChoice(RcSelfPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = RcSelfModel(config)
        self.post_init()

    def forward(self, input_ids, choice_ids=None, attention_mask=None):
        log_probs = F.log_softmax(self.model(input_ids, attention_mask), dim=-1)
        return CausalLMOutput(logits=log_probs[:, -1].gather(-1, choice_ids))
