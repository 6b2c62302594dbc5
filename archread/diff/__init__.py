"""Two reduced models side by side: components aligned by role, line diffs, the facts that differ."""

from archread.diff.align import ArchDiff, ComponentDiff, FactDiff, diff_models, facts_of

__all__ = ["ArchDiff", "ComponentDiff", "FactDiff", "diff_models", "facts_of"]
