"""archread: read a new LLM architecture — its core equations, its differences from Llama, and proof."""

__version__ = "0.1.0"
