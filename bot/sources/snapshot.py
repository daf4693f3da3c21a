"""One line of an arXiv metadata snapshot (JSON lines, as Kaggle's arxiv-metadata-oai-snapshot) as a
PaperRecord: a typed fast path (`SnapshotLine`, `typed_record`) and the generic parser that says what is wrong
(`parse_snapshot_record`); a test holds the two to the same records."""

from __future__ import annotations

from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

from bot.links import normalize_arxiv_id
from storage.records import PaperRecord
from storage.states import PaperSource
from storage.text import without_nul

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}


class _Version(msgspec.Struct, gc=False):
    version: str | None = None
    created: str | None = None


class SnapshotLine(msgspec.Struct, gc=False, rename={"journal_ref": "journal-ref"}):
    """The fields of a snapshot line that paperbot keeps, typed: decoding skips the rest (submitter, license,
    report-no) and checks the types in C. A line that does not fit is parsed again as a generic object."""

    id: str | None = None
    title: str | None = None
    authors: str | None = None
    authors_parsed: list[list[str]] | None = None
    abstract: str | None = None
    versions: list[_Version] | None = None
    update_date: str | None = None
    categories: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


def parse_snapshot_record(obj: Any) -> PaperRecord:
    r"""A PaperRecord from one arXiv metadata snapshot object; raises ValueError saying what is wrong.

    >>> record = parse_snapshot_record({"id": "hep-th/9901001", "title": "A\n B", "categories": "hep-th"})
    >>> record.title, record.primary_category
    ('A B', 'hep-th')
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    obj = without_nul(obj)
    raw_id, title = obj.get("id"), _collapse(obj.get("title"))
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("missing id")
    parsed = normalize_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"id {raw_id!r} is not an arXiv id")
    if title is None:
        raise ValueError(f"{parsed[0]}: missing title")
    given = obj.get("versions")
    versions = [v for v in given if isinstance(v, dict)] if isinstance(given, list) else []
    # The snapshot's id is versionless; its newest version is the last entry of `versions`.
    version = parsed[1] or (_text(versions[-1].get("version")) if versions else None)
    categories = obj["categories"].split() if isinstance(obj.get("categories"), str) else []
    return PaperRecord(
        arxiv_id=parsed[0],
        version=version,
        title=title,
        authors=_snapshot_authors(obj),
        abstract=_collapse(obj.get("abstract")),
        published=_rfc2822_date(versions[0].get("created")) if versions else None,
        updated=_iso_date(obj.get("update_date")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=_collapse(obj.get("comments")),
        journal_ref=_collapse(obj.get("journal-ref")),
        doi=_text(obj.get("doi")),
        source=PaperSource.SNAPSHOT,
    )


def typed_record(line: SnapshotLine) -> PaperRecord:
    """parse_snapshot_record for a typed line (the same record; a test holds the two to it)."""
    parsed = normalize_arxiv_id(line.id) if line.id is not None else None
    title = _collapse(line.title)
    if parsed is None or title is None:
        raise ValueError("incomplete")  # the generic path says what is missing
    versions = line.versions or ()
    categories = line.categories.split() if line.categories is not None else []
    return PaperRecord(
        arxiv_id=parsed[0],
        version=parsed[1] or (_text(versions[-1].version) if versions else None),
        title=title,
        authors=_typed_authors(line),
        abstract=_collapse(line.abstract),
        published=_rfc2822_date(versions[0].created) if versions else None,
        updated=_iso_date(line.update_date),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=_collapse(line.comments),
        journal_ref=_collapse(line.journal_ref),
        doi=_text(line.doi),
        source=PaperSource.SNAPSHOT,
    )


def _typed_authors(line: SnapshotLine) -> list[str]:
    if not line.authors_parsed:
        return _authors_text(line.authors)
    names = []
    for parts in line.authors_parsed:
        if len(parts) == 3 and not parts[2]:
            name = f"{parts[1].strip()} {parts[0].strip()}".strip()  # the common shape, fast
        else:
            name = _first_last(parts) if parts else ""
        if name:
            names.append(name)
    return names


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _collapse(value: Any) -> str | None:
    """Line breaks and runs of spaces become one space (the snapshot hard-wraps titles); LaTeX stays."""
    if not isinstance(value, str):
        return None
    # Snapshot text breaks lines with a bare "\n"; replacing it is 3x faster than split/join (measured), which
    # remains the fallback for any other run of whitespace.
    text = value.strip().replace("\n", " ")
    if "  " in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def _snapshot_authors(obj: dict[str, Any]) -> list[str]:
    """`authors_parsed` ([last, first, suffix]) as "First Last Suffix"; else the `authors` string split."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = (_first_last(parts) for parts in parsed if isinstance(parts, list) and parts)
        return [name for name in names if name]
    return _authors_text(obj.get("authors"))


def _authors_text(value: Any) -> list[str]:
    """`A. One, B. Two and C. Three` as names."""
    text = _collapse(value)
    if text is None:
        return []
    return [a.strip() for a in text.replace(" and ", ", ").split(",") if a.strip()]


def _first_last(parts: list[Any]) -> str:
    """`_first_last(["Curie", "Marie", ""]) == "Marie Curie"`: [last, first, suffix, ...] in reading order."""
    if len(parts) == 3 and not parts[2] and isinstance(parts[1], str) and isinstance(parts[0], str):
        return f"{parts[1].strip()} {parts[0].strip()}".strip()  # the common shape, fast
    ordered = [*parts[1:2], parts[0], *parts[2:]]
    try:
        return " ".join(" ".join(ordered).split())  # also drops the empty suffix
    except TypeError:  # a non-string part: keep the strings
        return " ".join(" ".join(p for p in ordered if isinstance(p, str)).split())


def _rfc2822_date(value: Any) -> date | None:
    """The date of `Mon, 2 Apr 2007 19:18:42 GMT`: a fast path for the snapshot's format, else the stdlib."""
    if not isinstance(value, str):
        return None
    parts = value.split()
    try:
        if len(parts) >= 4 and parts[2] in _MONTHS:
            return date(int(parts[3]), _MONTHS[parts[2]], int(parts[1]))
        return parsedate_to_datetime(value).date()
    except (ValueError, TypeError):
        return None


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
