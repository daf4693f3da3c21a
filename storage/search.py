"""What the search index reads: papers page by page, and papers changed since a watermark.

Pages are keyset-paginated (by arxiv_id, or by updated_at then arxiv_id) so the caller can read each page in its
own short transaction: on SQLite every transaction takes the write lock (storage/db.py), and one long read of a
million rows would hold imports and Slack events back for its whole length.

Abstracts are read only for papers that were on Hugging Face Daily Papers (`daily_date` set) unless asked
otherwise: at a million arXiv papers their abstracts are about a gigabyte, more than the search index's memory
budget (docs/search.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Table, Text, and_, case, cast, func, or_, select, text
from sqlalchemy.orm import Session

from storage.models import Paper

PAPERS: Table = Paper.__table__  # type: ignore[assignment]
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class SearchRow:
    """The fields of one paper that search looks at."""

    arxiv_id: str
    title: str
    authors: list[str]
    keywords: list[str]
    abstract: str | None
    updated_at: datetime


def papers_page(
    *, session: Session, after: str | None, limit: int, all_abstracts: bool = False, upto: str | None = None
) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    """Up to `limit` papers' (arxiv_id, title, authors and keywords as JSON text, abstract) with arxiv_id greater
    than `after` (None: from the first) and at most `upto` (None: to the last), by arxiv_id: what a full load
    reads, as the driver gives it, through its own cursor. A million SQLAlchemy rows, decoded author lists and
    parsed stamps would cost seconds the load does not need (bot/search/bulk.py tokenises the JSON text itself;
    the caller reads the few stamps it needs with `stamped_since`).

    `upto` is not a condition of the query: a range the planner could not bound (from the first paper to
    `upto`) made PostgreSQL scan and sort it for every page. The database compares each row with it in a column
    (in its own collation, which Python's string order need not match), and the rows past it are dropped here."""
    columns = _columns(all_abstracts)[:5]
    if upto is not None:
        columns.append(PAPERS.c.arxiv_id <= upto)
    query = select(*columns).order_by(PAPERS.c.arxiv_id).limit(limit)
    if after is not None:
        query = query.where(PAPERS.c.arxiv_id > after)
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    order = compiled.positiontup
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), tuple(params[name] for name in order) if order is not None else params)
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    if upto is None:
        return rows
    return [row[:5] for row in rows if row[5]]


def changed_page(
    *, session: Session, since: datetime, after: tuple[datetime, str] | None, limit: int, all_abstracts: bool = False
) -> list[SearchRow]:
    """Up to `limit` papers with updated_at >= `since`, by (updated_at, arxiv_id), after the key `after`."""
    query = select(*_columns(all_abstracts)).where(PAPERS.c.updated_at >= since)
    if after is not None:
        stamp, key = after
        query = query.where(
            or_(PAPERS.c.updated_at > stamp, and_(PAPERS.c.updated_at == stamp, PAPERS.c.arxiv_id > key))
        )
    query = query.order_by(PAPERS.c.updated_at, PAPERS.c.arxiv_id).limit(limit)
    return [_row(values) for values in session.execute(query)]


def latest_change(*, session: Session) -> datetime | None:
    """The newest updated_at of any paper (None for an empty table), in UTC."""
    return _utc(session.scalar(select(func.max(PAPERS.c.updated_at))))


def title_page(*, session: Session, after: str | None, limit: int) -> list[tuple[str, str, list[str]]]:
    """Up to `limit` papers' (arxiv_id, title, authors) after `after`, by arxiv_id: what a search reads while
    the index is still loading."""
    query = select(PAPERS.c.arxiv_id, PAPERS.c.title, cast(PAPERS.c.authors, Text)).order_by(PAPERS.c.arxiv_id)
    if after is not None:
        query = query.where(PAPERS.c.arxiv_id > after)
    decode = msgspec.json.decode
    return [
        (key, title or "", decode(authors) if authors else [])
        for key, title, authors in session.execute(query.limit(limit))
    ]


def database_identity(*, session: Session) -> tuple[str, str] | None:
    """(where, which) of the database: where it is (stable across restarts: names a search snapshot's file) and
    which incarnation of it this is (another after the database or its papers table is recreated, restored or
    truncated, so an old snapshot is not taken for it). None for a database without a lasting place (in memory).
    """
    if session.get_bind().dialect.name == "sqlite":
        rows = session.execute(text("PRAGMA database_list")).all()
        path = next((row[2] for row in rows if row[1] == "main"), "")
        if not path:
            return None
        status = os.stat(path)
        return f"sqlite:{os.path.realpath(path)}", f"{status.st_dev}:{status.st_ino}"
    where, which = session.execute(
        text(
            "SELECT concat_ws(':', inet_server_addr(), inet_server_port(), current_database(), current_schema()),"
            " concat_ws(':', d.oid, c.oid, c.relfilenode)"
            " FROM pg_database d, pg_class c"
            " WHERE d.datname = current_database() AND c.oid = to_regclass('papers')"
        )
    ).one()
    return f"postgresql:{where}", str(which)


def key_at(*, session: Session, offset: int) -> str | None:
    """The arxiv_id of the paper at `offset` (from 0) in arxiv_id order, or None past the last."""
    query = select(PAPERS.c.arxiv_id).order_by(PAPERS.c.arxiv_id).offset(offset).limit(1)
    found: str | None = session.scalar(query)
    return found


def papers_count(*, session: Session) -> int:
    """How many papers are stored."""
    return int(session.scalar(select(func.count()).select_from(PAPERS)) or 0)


def stamps_of(*, session: Session, keys: list[str]) -> dict[str, datetime]:
    """The updated_at of each of the papers `keys` that exists, in UTC."""
    rows = session.execute(select(PAPERS.c.arxiv_id, PAPERS.c.updated_at).where(PAPERS.c.arxiv_id.in_(keys)))
    return {key: _utc(stamp) or datetime.min.replace(tzinfo=UTC) for key, stamp in rows}


def stamped_since(*, session: Session, since: datetime) -> dict[str, datetime]:
    """Every paper stamped at or after `since`, with its updated_at, in UTC."""
    query = select(PAPERS.c.arxiv_id, PAPERS.c.updated_at).where(PAPERS.c.updated_at >= since)
    return {key: _utc(stamp) or datetime.min.replace(tzinfo=UTC) for key, stamp in session.execute(query)}


def stamped_before(*, session: Session, before: datetime, limit: int) -> dict[str, datetime]:
    """Up to `limit` of the papers stamped last before `before`, with their updated_at, in UTC."""
    query = (
        select(PAPERS.c.arxiv_id, PAPERS.c.updated_at)
        .where(PAPERS.c.updated_at < before)
        .order_by(PAPERS.c.updated_at.desc())
        .limit(limit)
    )
    return {key: _utc(stamp) or datetime.min.replace(tzinfo=UTC) for key, stamp in session.execute(query)}


def _columns(all_abstracts: bool) -> list[ColumnElement[Any]]:
    abstract: ColumnElement[Any] = PAPERS.c.abstract
    if not all_abstracts:
        abstract = case((PAPERS.c.daily_date.is_not(None), PAPERS.c.abstract), else_=None)
    # JSON lists come as text, decoded by msgspec (the drivers' json.loads is several times slower).
    return [
        PAPERS.c.arxiv_id,
        PAPERS.c.title,
        cast(PAPERS.c.authors, Text),
        cast(PAPERS.c.ai_keywords, Text),
        abstract,
        PAPERS.c.updated_at,
    ]


def _row(values: Any) -> SearchRow:
    key, title, authors, keywords, abstract, updated_at = values
    decode = msgspec.json.decode
    return SearchRow(
        key,
        title or "",
        decode(authors) if authors else [],
        decode(keywords) if keywords else [],
        abstract,
        _utc(updated_at) or datetime.min.replace(tzinfo=UTC),
    )


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (what was stored, in UTC); PostgreSQL aware ones."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() == _ZERO:
        return value.replace(tzinfo=UTC)  # astimezone costs ~20 us a row: a tenth of a million-paper load
    return value.astimezone(UTC)
