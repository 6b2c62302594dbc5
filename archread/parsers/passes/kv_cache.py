"""KV cache: the reduced model runs one full sequence, so no cache is read or written."""

from __future__ import annotations

from archread.parsers.passes.base import Knockout

CACHE_NAMES = {
    "past_key_value": None, "past_key_values": None, "layer_past": None, "cache": None,
    "cache_params": None, "use_cache": False, "past_key_values_length": 0,
}


class KVCache(Knockout):
    NAME = "kv_cache"
    DESCRIPTION = "past_key_value(s), cache.update, use_cache, cache_position and the cache classes."
    NAMES = CACHE_NAMES
    STRIP = [(
        "def f(self, k, v, past_key_value=None, use_cache=False):\n"
        "    if past_key_value is not None:\n        k, v = past_key_value.update(k, v, self.i)\n"
        "    present = (k, v) if use_cache else None\n    return k, v, present\n",
        "def f(self, k, v):\n    present = None\n    return k, v, present\n",
    )]
    STRIP += [(  # a helper reading the cache length: its calls lose the keyword, so it reads the fixed 0 (4.3x bloom)
        "def mask(shape, past_key_values_length):\n    return torch.ones(shape[1], shape[1] + past_key_values_length)\n"
        "def f(self, x, past_key_values_length=0):\n    return mask(x.shape, past_key_values_length=past_key_values_length)\n",
        "def mask(shape):\n    return torch.ones(shape[1], shape[1])\ndef f(self, x):\n    return mask(x.shape)\n",
    )]
    KEEP = ["def f(self, k, v):\n    return k, v\n"]
