"""How an error becomes the one line a user reads."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The last line of an exception's text (its type's name when it has none)."""
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
