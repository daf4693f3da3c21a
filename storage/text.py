"""Text hygiene every layer needs (storage is the ground floor, so it lives here): first lines of errors,
masked URL passwords, NUL-free strings."""

from __future__ import annotations

import re
from typing import Any


def first_line(exc: BaseException) -> str:
    r"""The first line of an exception's message (drivers append long context), or its class name:
    `first_line(ValueError("bad\nmore")) == "bad"`."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# The password of a URL: `scheme://user:PASSWORD@host` (SQLAlchemy lets a password hold ':' and '/', not '@').
_URL_PASSWORD = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def mask_url_passwords(text: str) -> str:
    """Every URL password in `text` replaced by ***:
    `mask_url_passwords("postgresql+psycopg://bot:pw@db/x") == "postgresql+psycopg://bot:***@db/x"`."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def without_nul(value: Any) -> Any:
    r"""`value` with the NUL characters taken out of its strings, at any depth of dicts and lists. PostgreSQL
    stores no NUL in text or jsonb (a paper holding one would fail its whole batch there), and no real title or
    abstract has one, so it goes, on both databases alike.

    >>> without_nul({"title": "A\x00B", "authors": [{"name": "C\x00"}], "upvotes": 3})
    {'title': 'AB', 'authors': [{'name': 'C'}], 'upvotes': 3}
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value
