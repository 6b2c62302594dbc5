"""One exception family: the CLI prints its message as one line and exits 2; the UI opens a dialog."""


class ArchreadError(Exception):
    """A problem with the user's input or environment, stated in one line."""

    def __init__(self, message: str, title: str = "archread"):
        super().__init__(message)
        self.title = title


def one_line(exc: BaseException) -> str:
    """An exception from code archread does not own (a configuration class's validation spans lines), on one line."""
    return " ".join(str(exc).split())
