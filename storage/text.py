"""Text hygiene every layer needs (storage is the ground floor, so it lives here): first lines of errors,
masked URL passwords, NUL-free strings, text a database can store, log lines that stay one line."""

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
    r"""`value` with its strings made storable (`storable`: NUL taken out, a lone surrogate replaced), at any
    depth of dicts and lists. PostgreSQL stores no NUL in text or jsonb (a paper holding one would fail its whole
    batch there), and no real title or abstract has one, so it goes, on both databases alike.

    >>> without_nul({"title": "A\x00B", "authors": [{"name": "C\x00"}], "upvotes": 3})
    {'title': 'AB', 'authors': [{'name': 'C'}], 'upvotes': 3}
    """
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(key) if isinstance(key, str) else key: without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


# What a database cannot hold: NUL (PostgreSQL refuses it in text) and lone surrogates (no encoding has them:
# SQLite's and psycopg's UTF-8 encoders both fail). Slack's JSON can carry either (`"\u0000"`, `"\ud800"`).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    r"""`text` as a database can store it on SQLite and PostgreSQL alike: NUL dropped, a lone surrogate replaced
    by U+FFFD (the replacement character): `storable("a\x00b\ud800") == "ab\ufffd"`."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group(0) == "\x00" else "\ufffd", text)


# Characters that could end a log line or pass for one (line breaks, other controls, Unicode line separators) and
# lone surrogates (which a UTF-8 log stream cannot write).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def one_line(text: str) -> str:
    r"""`text` on one line, its controls escaped so data can never start a forged log line:
    `one_line("a\nb\x1b") == "a\\nb\\x1b"`."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(0)) or _escape(m.group(0)), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
