"""The one exception type users see: the CLI prints its message as a single line."""


class BrushworkError(ValueError):
    """A problem with the user's input or environment, with a message that says how to fix it.

    A ValueError too, so code that already catches bad values catches it.
    """
