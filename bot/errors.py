"""Small helpers for turning exceptions into the one-line reasons paperbot shows people."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers append long context), or its class name:
    `first_line(ValueError("bad\\nmore")) == "bad"`."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
