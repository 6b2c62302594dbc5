"""Python's method lookup order over a module's own classes: `archread.parsers.analysis.classes.local_mro`. The
name stays here only for facts.py, until the facts read through the analysis layer (issue 23)."""

from archread.parsers.analysis.classes import local_mro

__all__ = ["local_mro"]
