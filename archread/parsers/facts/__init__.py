"""Architecture facts, read from a reduced module's code and its configuration's defaults.

Nothing here knows a model by name: every fact comes from how the code computes (which norm class the layer
builds and what its forward does, where norms sit around the attention call, whether the feed-forward
multiplies an activation by a second projection, how a router picks experts, ...), with the configuration's
default deciding what the code leaves to the config (`ACT2FN[config.hidden_act]`, `if self.use_parallel_residual:`).
Each fact carries the line of the reduced source it was read from, or the configuration file line, and where
the code chooses per layer, the condition (`when`).
"""

from __future__ import annotations

from archread.parsers.config_defaults import Default
from archread.parsers.facts.attention import attention_facts
from archread.parsers.facts.block import block_facts
from archread.parsers.facts.code import Code
from archread.parsers.facts.fact import Fact
from archread.parsers.facts.layers import layer_kind_facts, main_layer
from archread.parsers.facts.mixers import mixer_facts
from archread.parsers.facts.mla import mla_facts
from archread.parsers.facts.mlp import mlp_facts
from archread.parsers.facts.model import model_facts
from archread.parsers.facts.moe import moe_facts
from archread.parsers.facts.norms import norm_facts
from archread.parsers.facts.position import position_facts
from archread.parsers.facts.precision import precision_facts
from archread.parsers.facts.scale import HEAD_SIZE
from archread.parsers.facts.torch_api import ACT_NAMES

__all__ = ["ACT_NAMES", "HEAD_SIZE", "Fact", "facts"]


def facts(code: str, config: dict[str, Default] | None = None, autocast_off: list[str] = ()) -> list[Fact]:
    """`autocast_off`: the classes whose autocast-off plumbing the reduction folded (Reduction.autocast_off)."""
    c = Code(code, config or {})
    layer = main_layer(c)
    out: list[Fact] = []
    out += norm_facts(c, layer)
    out += block_facts(c, layer)
    out += attention_facts(c, layer)
    out += mla_facts(c, layer)
    out += position_facts(c)
    out += mlp_facts(c, layer)
    out += moe_facts(c)
    out += layer_kind_facts(c)
    out += mixer_facts(c)
    out += model_facts(c)
    out += precision_facts(c, layer, list(autocast_off))
    seen: set[str] = set()
    return [f for f in out if not (f.key in seen or seen.add(f.key))]  # the first reading of a key stands
