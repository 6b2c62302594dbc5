"""A tiny configuration of any architecture, shrunk generically from its configuration class's defaults.

Dimensions shrink to a few dozen while staying consistent (grouped-query ratio, per-layer
patterns keep one layer of every kind, windows shorter than the test sequence).
"""

from __future__ import annotations

import copy

from archread.runtime.tiny_sections import LAYER_COUNT_KEYS as _LAYER_COUNT_KEYS
from archread.runtime.tiny_sections import config_sections, divisible, plain_sections, rebuildable_fields

# field -> tiny value; the relations between them (heads × head_dim, experts ≥ top-k) hold by construction
_TINY = {
    "hidden_size": 64, "d_model": 64, "n_embd": 64, "model_dim": 64, "embed_dim": 64, "dim": 64,
    "intermediate_size": 96, "ffn_hidden_size": 96, "n_inner": 96, "ffn_dim": 96, "d_ff": 96,
    "num_hidden_layers": 2, "n_layer": 2, "num_layers": 2, "n_layers": 2,
    "num_attention_heads": 4, "n_head": 4, "n_heads": 4, "num_heads": 4,
    "head_dim": 16, "attention_head_dim": 16, "kv_channels": 16,
    "vocab_size": 128,
    "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32, "expert_intermediate_size": 32,
    "num_experts": 4, "num_local_experts": 4, "n_routed_experts": 4, "moe_num_experts": 4,
    "num_experts_per_tok": 2, "moe_topk": 2, "top_k": 2, "moe_k": 2,
    "n_group": 1, "topk_group": 1, "first_k_dense_replace": 1, "n_shared_experts": 1,
    "kv_lora_rank": 16, "q_lora_rank": 24, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16,
    "sliding_window": 8, "attention_chunk_size": 8,
    "max_position_embeddings": 256, "n_positions": 256, "max_seq_len": 256,
    "state_size": 8, "ssm_state_size": 8, "d_state": 8, "mamba_d_state": 8, "conv_kernel": 4,
    "time_step_rank": 8, "mamba_n_heads": 4, "mamba_d_head": 16, "linear_num_key_heads": 2,
    "linear_num_value_heads": 4, "linear_key_head_dim": 16, "linear_value_head_dim": 16,
}
# fields not listed above, recognised by the words in their names: (all of, none of, tiny value)
_BY_NAME = [
    (("index", "topk"), (), 8),  # tokens a sparse-attention indexer keeps: fewer than the test sequence
    (("per_tok",), (), 2), (("topk",), ("group",), 2), (("top_k",), (), 2),
    (("group",), ("size",), 1),  # expert groups (and how many of them are picked)
    (("expert",), ("size", "dim", "per_tok", "shared", "layer", "freq", "interval", "scal", "bias", "factor"), 4),
    (("expert", "size"), (), 32), (("ffn", "size"), (), 96), (("intermediate",), (), 96),
    (("head_dim",), (), 16), (("heads",), ("key_value", "kv"), 4), (("rank",), (), 16),
]
# None in these means "not set" in some configuration classes that then fail: a tiny value is as good
_FILL_NONE = ("head_dim", "num_experts_per_tok", "n_group", "topk_group", "n_routed_experts", "n_shared_experts")
_TEST_TOKENS = 16


def _tiny_of(key: str) -> int | None:
    return _TINY.get(key) or _by_name(key)


def _by_name(key: str) -> int | None:
    """The tiny value of a field _TINY does not list, from the words in its name (first rule that fits)."""
    return next((tiny for every, none, tiny in _BY_NAME if all(w in key for w in every) and not any(w in key for w in none)), None)


def _tiny_kv(kv: int, heads: int) -> int:
    return 4 if kv >= heads else (2 if kv > 1 else 1)  # as many as the 4 query heads, grouped, or one


def _kv_heads_elsewhere(fields: dict) -> dict:
    """Key/value head counts under other names (RW's n_head_kv), also in a nested section (MPT's attn_config.kv_n_heads):
    shrunk with the query heads, so the grouping the model checks still holds."""
    heads = next((fields[k] for k in ("num_attention_heads", "n_head", "n_heads", "num_heads")
                  if isinstance(fields.get(k), int)), None)
    if not heads:
        return {}

    def kv_keys(section: dict) -> list[str]:
        return [k for k, v in section.items() if isinstance(k, str) and k != "num_key_value_heads" and ("heads" in k or k.endswith("head_kv")) and ("kv" in k or "key_value" in k)
                and isinstance(v, int) and not isinstance(v, bool) and v > 0]

    changes = {k: _tiny_kv(fields[k], heads) for k in kv_keys(fields)}
    for name, section in fields.items():
        if isinstance(section, dict) and kv_keys(section):
            changes[name] = {**section, **{k: _tiny_kv(section[k], heads) for k in kv_keys(section)}}
    return changes


def _per_frequency(fields: dict, changes: dict) -> dict:
    """Lists of one value per rotary frequency (LongRoPE's short_factor and long_factor: head_dim / 2 of them)
    keep their first entries, one per frequency of the tiny head."""
    head, tiny_head = _head_size(fields), _head_size({**fields, **changes})
    if not head or not tiny_head or head == tiny_head:
        return {}
    out = {}
    for name, section in fields.items():
        if isinstance(section, dict) and name not in changes:
            lists = {k: v[: tiny_head // 2] for k, v in section.items() if isinstance(k, str) and isinstance(v, list)
                     and len(v) == head // 2 and all(isinstance(x, (int, float)) for x in v)}
            if lists:
                out[name] = {**section, **lists}
    return out


def _layer_pattern(values: list, keep: int) -> list[int]:
    """Indices of a per-layer list that keep its first entries and one layer of every kind."""
    chosen = list(range(min(keep, len(values))))
    for i, value in enumerate(values):
        if all(values[j] != value for j in chosen):
            chosen.append(i)
    return sorted(chosen)


_STATE_HEADS = [("mamba_n_heads", "mamba_d_head", "mamba_expand"), ("num_heads", "head_dim", "expand")]


def _head_size(fields: dict) -> int | None:
    if isinstance(fields.get("head_dim"), int):
        return fields["head_dim"]
    hidden = next((fields[k] for k in ("hidden_size", "n_embd", "d_model") if isinstance(fields.get(k), int)), None)
    heads = next((fields[k] for k in ("num_attention_heads", "n_head", "num_heads") if isinstance(fields.get(k), int)), None)
    return hidden // heads if hidden and heads else None


def _fixed_head(fields: dict, changes: dict, fixed: set[int]) -> None:
    """A head size the code writes as a literal stays that size: the tiny width becomes heads × it."""
    head = _head_size(fields)
    if head not in fixed or isinstance(fields.get("head_dim"), int):
        return
    heads = next((changes.get(k, fields[k]) for k in ("num_attention_heads", "n_head", "num_heads")
                  if isinstance(fields.get(k), int)), None)
    for key in ("hidden_size", "n_embd", "d_model"):
        if key in changes and heads:
            changes[key] = heads * head


def _keep_equalities(fields: dict, changes: dict) -> None:
    """Sizes equal in the defaults stay equal (MLA's head_dim = qk_rope_head_dim): the smaller tiny value wins.
    Only head and width sizes: a window or a context that happens to equal one is another quantity."""
    ints = {k: v for k, v in fields.items() if isinstance(v, int) and not isinstance(v, bool) and v > 1
            and any(t in k for t in ("dim", "size", "heads")) and not any(t in k for t in ("position", "vocab", "window"))}
    for a in ints:
        for b in ints:
            if a < b and ints[a] == ints[b] and (a in changes or b in changes):
                tiny = min(changes.get(a, ints[a]), changes.get(b, ints[b]))
                changes[a] = changes[b] = tiny


def layer_fields(fields: dict, layers: int) -> tuple[dict, dict, dict]:
    """The configuration's fields that hold one entry per layer: (per-layer lists, layer-indexed dicts, lists of
    layer indices)."""
    lists = {k: v for k, v in fields.items() if isinstance(v, list) and len(v) == layers and k != "architectures"}
    dicts = {k: v for k, v in fields.items() if isinstance(v, dict) and v and "layer" in k  # not id2label
             and all(str(x).isdigit() and int(x) < layers for x in v)}
    indices = {k: v for k, v in fields.items() if isinstance(v, list) and v and len(v) != layers and "layer" in k
               and all(type(x) is int and 0 <= x < layers for x in v)}  # Kolibri's index_layers = [4, 14, 19, 29]
    return lists, dicts, indices


def _per_layer(fields: dict, layers: int) -> dict:
    """One choice of layers for every per-layer list, layer-indexed dict and list of layer indices at once, so
    they agree: the first two layers and one of every kind (a kind: the layer's values across all of them)."""
    lists, dicts, indices = layer_fields(fields, layers)
    if not lists and not dicts and not indices:
        return {}
    members = [{int(x) for x in d} for d in dicts.values()] + [set(v) for v in indices.values()]
    kinds = [tuple(repr(v[i]) for v in lists.values()) + tuple(i in m for m in members) for i in range(layers)]
    picked = _layer_pattern(kinds, 2)
    changes = {k: [v[i] for i in picked] for k, v in lists.items()}
    for k, d in dicts.items():
        changes[k] = {type(x)(picked.index(int(x))): value for x, value in d.items() if int(x) in picked}
    for k, v in indices.items():
        changes[k] = [picked.index(x) for x in v if x in picked]
    changes.update({k: len(picked) for k in _LAYER_COUNT_KEYS if k in fields})
    return changes


def _periodic_layers(fields: dict, layers: int, tiny: int) -> int:
    """Layer kinds chosen by an `X_offset` and an `X_period` (Jamba's attention every 8th layer from the 4th:
    layer i is of the kind when (i - offset) % period == 0): the fewest layers, at least tiny, whose first ones
    hold every combination of kinds the whole stack holds."""
    pairs = [(v, fields[k[: -len("offset")] + "period"]) for k, v in fields.items() if k.endswith("_offset")
             and type(v) is int and type(fields.get(k[: -len("offset")] + "period")) is int and fields[k[: -len("offset")] + "period"] > 0]
    if not pairs:
        return tiny

    def kinds(i: int) -> tuple[bool, ...]:
        return tuple((i - offset) % period == 0 for offset, period in pairs)
    wanted, seen = {kinds(i) for i in range(layers)}, set()
    for i in range(layers):
        seen.add(kinds(i))
        if i + 1 >= tiny and seen >= wanted:
            return i + 1
    return layers


def shrink(config, fixed_sizes: set[int] = frozenset(), assumed: dict | None = None, token_ids: set[int] = frozenset(),
           divisors: dict[str, int] | None = None):
    """A tiny copy of a transformers configuration, rebuilt by its class so derived fields follow; fixed_sizes:
    sizes the modeling code writes as literals (`literal_sizes`), which a head size equal to one keeps; assumed:
    the values the reading's folds rest on (`Reduction.assumed`), which an unset field keeps (DeepSeek-V2's
    default n_routed_experts=None builds a dense MLP: given experts, the original would not be the model read);
    token_ids: ids the code writes as literals and looks up in its input (`test_input.literal_ids`), which the
    vocabulary keeps; divisors: fields the code floor-divides by a literal (`literal_divisors`), kept multiples."""
    fields = rebuildable_fields(config)
    changes: dict = {}
    layers = next((fields[k] for k in _LAYER_COUNT_KEYS if isinstance(fields.get(k), int)), None)
    heads = fields.get("num_attention_heads")
    for key, tiny in _TINY.items():
        value = fields.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > tiny:
            changes[key] = tiny
    for key, value in fields.items():
        if key in _TINY or not isinstance(value, int) or isinstance(value, bool) or "token_id" in key:
            continue
        tiny = _by_name(key)
        if tiny is not None and value > tiny:
            changes[key] = tiny
    for key in _FILL_NONE:  # but one the reading rests on being unset
        if key in fields and fields[key] is None and not (assumed and key in assumed and assumed[key] is None):
            changes[key] = _TINY[key] if key != "head_dim" else _head_size({**fields, **changes, "head_dim": None})
    kv = fields.get("num_key_value_heads")
    if isinstance(heads, int) and "num_key_value_heads" in fields:  # None means one kv head per query head
        changes["num_key_value_heads"] = 4 if kv is None or kv >= heads else (2 if kv > 1 else 1)
    changes.update(_kv_heads_elsewhere(fields))
    groups = []  # changes a validator may tie together: the per-layer ones move as one
    if isinstance(layers, int):
        per_layer = _per_layer(fields, layers)
        for key, value in list(per_layer.items()):  # a per-layer list of sizes (HunYuan's moe_topk: one k per layer)
            tiny = _TINY.get(key) or _by_name(key)  # shrinks entry by entry, as the scalar of that name would
            if isinstance(value, list) and tiny is not None and value and all(type(x) is int for x in value):
                per_layer[key] = [min(x, tiny) for x in value]
        groups.append(per_layer)
        keep = _periodic_layers(fields, layers, _TINY["num_hidden_layers"])
        if not per_layer and keep > min(layers, _TINY["num_hidden_layers"]):  # per-layer lists, where given, decide
            changes.update({k: keep for k in _LAYER_COUNT_KEYS if k in fields})
    for heads_key, dim_key, expand_key in _STATE_HEADS:  # SSM heads × head size = expand × hidden
        if all(k in fields for k in (heads_key, dim_key, expand_key)) and isinstance(fields[expand_key], (int, float)):
            hidden = changes.get("hidden_size", fields.get("hidden_size"))
            heads_now = changes.get(heads_key, fields[heads_key])
            if isinstance(hidden, int) and isinstance(heads_now, int) and heads_now:
                changes[dim_key] = int(fields[expand_key] * hidden) // heads_now
                width = heads_key.replace("n_heads", "d_ssm").replace("num_heads", "d_ssm")  # Falcon-H1's mamba_d_ssm
                if isinstance(fields.get(width), int):  # an explicit SSM width is that same product
                    changes[width] = changes[dim_key] * heads_now
    _keep_equalities(fields, changes)
    _fixed_head(fields, changes, fixed_sizes)
    for key, value in fields.items():  # MLA: qk_head_dim = nope + rope stays a sum
        nope, rope = key.replace("head_dim", "nope_head_dim"), key.replace("head_dim", "rope_head_dim")
        if key.endswith("head_dim") and isinstance(value, int) and nope in fields and rope in fields and nope != key:
            if isinstance(fields[nope], int) and isinstance(fields[rope], int) and value == fields[nope] + fields[rope]:
                changes[key] = changes.get(nope, fields[nope]) + changes.get(rope, fields[rope])
    for key in ("rotary_dim", "rotary_emb_dim", "rotary_ndims"):  # a rotary width keeps its share of the head
        head, tiny_head = _head_size(fields), _head_size({**fields, **changes})
        if isinstance(fields.get(key), int) and head and tiny_head:
            changes[key] = max(2, fields[key] * tiny_head // head // 2 * 2)
    changes.update(_per_frequency(fields, changes))
    changes.update(plain_sections(config, fields, changes, _tiny_of))
    changes.update(config_sections(config, fields, lambda sub: shrink(sub, token_ids=token_ids)))
    divisible(fields, changes, divisors or {})
    if "use_cache" in fields:
        changes["use_cache"] = False
    if token_ids and isinstance(changes.get("vocab_size"), int) and max(token_ids) < fields["vocab_size"]:
        changes["vocab_size"] = max(changes["vocab_size"], max(token_ids) + 1)  # ChatGLM's gMASK = 150001
    vocab = changes.get("vocab_size", _TINY["vocab_size"])
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if isinstance(fields.get(key), int) and fields[key] >= vocab:
            changes[key] = 0
        elif key not in fields:  # 5.0 classes that dropped the field while their model still reads it (Phi, JetMoe)
            changes[key] = None
    per_layer = groups[0] if groups else {}
    changes = {k: v for k, v in changes.items() if k not in per_layer}
    return _accepted(type(config), fields, [per_layer] + [{k: v} for k, v in changes.items()])


def fewer_layers(config):
    """The configuration at its own widths with two layers (one of every kind): a second try where the tiny widths
    break a relation the shrinking does not know (RetNet's value width against its heads); None where no count."""
    fields = rebuildable_fields(config)
    counts = {k: 2 for k, v in fields.items() if type(v) is int and v > 2 and (k in _LAYER_COUNT_KEYS or k.endswith("_layers"))}
    layers = next((fields[k] for k in counts), None)
    if layers is None:
        return None
    return _accepted(type(config), fields, [_per_layer(fields, layers) or counts, {"use_cache": False} if "use_cache" in fields else {}])


def _accepted(cls, fields: dict, groups: list[dict]):
    """The configuration with every change, or, where the class's validators reject that (a size the shrinking
    does not know is tied to one it moved: XLNet's d_head = d_model // n_head), with the changes it accepts,
    added one group at a time over the defaults (which it accepts)."""
    everything = {k: v for g in groups for k, v in g.items()}
    try:
        return cls.from_dict({**fields, **everything})
    except Exception:  # noqa: BLE001 - the classes' validators raise their own error types
        pass
    kept: dict = {}
    for group in groups:
        if not group:
            continue
        try:
            cls.from_dict({**fields, **kept, **group})
        except Exception:  # noqa: BLE001
            continue
        kept.update(group)
    return cls.from_dict({**fields, **kept})


def fill_unset(config):
    """The same configuration with its optional integer fields that are still None given small values: some
    classes leave an optional block unset by default while the model builds it anyway (a second try only)."""
    annotations: dict = {}
    for cls in reversed(type(config).__mro__):
        annotations.update(getattr(cls, "__annotations__", {}))
    fields = rebuildable_fields(config)
    changes = {}
    for key, value in fields.items():
        kind = str(annotations.get(key, ""))
        if value is None and "int" in kind and not any(t in kind for t in ("list", "dict", "tuple")):
            changes[key] = 1 if "kv_heads" in key else _TINY.get(key) or _by_name(key) or 4
    return type(config).from_dict({**fields, **changes}) if changes else None


_BYTES_PER_PARAMETER = 12  # float32: the original, the copy of its state dict, the reduced model


def _memory() -> int:
    """This machine's physical memory in bytes (0 where the platform does not say)."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_small(model_cls, config) -> None:
    """Refuse, before allocating it, a model the shrunk configuration leaves too large for this machine (sizes in
    a nested section the shrinking does not reach): it is counted on the meta device first. A model that cannot
    be built there (an initialiser reading values) is let through."""
    import torch

    from archread.errors import ArchreadError

    try:  # on a copy: a build may consume fields (4.x's post_init deletes config.gradient_checkpointing)
        with torch.device("meta"):
            count = sum(p.numel() for p in model_cls(copy.deepcopy(config)).parameters())
    except Exception:  # noqa: BLE001 - the real build reports its own errors
        return
    memory = _memory()
    if memory and count * _BYTES_PER_PARAMETER > 0.8 * memory:
        raise ArchreadError(f"the tiny configuration archread derives still builds {count:,} parameters for "
                            f"{model_cls.__name__}, more than this machine's {memory / 2**30:.0f} GiB hold three "
                            f"times; pass --config with a small configuration")


def build_tiny(model_cls, config):
    """(the model with random weights, the configuration it was built from), eager. A tiny configuration whose
    optional sizes the model needed anyway (`None // None`) gets a second try with those sizes filled."""
    import torch

    from archread.runtime.compare import eager

    eager(config)
    check_small(model_cls, config)
    torch.manual_seed(0)
    try:
        return _initialised(model_cls(config).eval()), config
    except TypeError as exc:
        filled = fill_unset(config) if "NoneType" in str(exc) else None
        if filled is None:
            raise
        eager(filled)
        torch.manual_seed(0)
        return _initialised(model_cls(filled).eval()), filled


_UNSET = 1e4  # beyond any initialiser's scale: memory torch.empty left as it was


def _initialised(model):
    """Parameters the model's own init left unset (ChatGLM's `skip_init`, an `_init_weights` that returns at once,
    a `torch.empty` head) get random values like the rest: otherwise both sides run on whatever memory held."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.is_floating_point() and p.numel() and not (torch.isfinite(p).all() and p.abs().max() < _UNSET):
                if p.dim() >= 2:
                    p.normal_(0.0, 0.02)
                else:  # a norm's scale is one, a bias zero
                    p.fill_(0.0 if name.endswith("bias") else 1.0)
    return model


def test_tokens() -> int:
    return _TEST_TOKENS
