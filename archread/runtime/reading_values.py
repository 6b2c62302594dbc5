"""The values a reading took that the original must be built with too, so that both models are the model read."""

from __future__ import annotations


def on_torch_path(config, fields: dict):
    """The configuration with the flags that chose optional fused kernels (Jamba's use_mamba_kernels) set to take
    the torch path the reading took: without those kernels the original raises on the other."""
    for key, value in (fields or {}).items():
        if hasattr(config, key):
            setattr(config, key, value)
    return config


def on_runnable_values(config, repaired: dict):
    """The values the reading took where the defaults build no runnable LM (`Reduction.repaired`: field →
    [default, value, why]), set where the configuration still holds that default. A configuration that chose otherwise
    (a checkpoint's config.json) is the model run: the reading is then taken again for its values, never the other
    way round."""
    for key, (default, value, _) in (repaired or {}).items():
        if getattr(config, key, default) == default:
            setattr(config, key, value)
    return config
