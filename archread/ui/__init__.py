"""The Textual reader. Only renders results the parsers and runtime computed."""
