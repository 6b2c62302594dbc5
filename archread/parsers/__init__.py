"""Reading modeling source: resolve, reduce, describe. Imports neither torch nor textual."""

from archread.parsers.pipeline import Reduction, reduce_source
from archread.parsers.source import Source, resolve

__all__ = ["Reduction", "Source", "reduce_source", "resolve"]
