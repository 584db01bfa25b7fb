"""The one exception type users see: the CLI prints its message as a single line."""


class BrushworkError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""
