"""Papers: the one idempotent upsert every source goes through (its merge rules: storage.merge; its bulk
INSERTs: storage.bulk), and the reads the digest and search need.

Unchanged papers are not written at all, so re-importing a file leaves every row, `updated_at` included, as it
was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import JSON, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.orm import Session

from storage.bulk import CHUNK, bulk_insert, chunks, id_in, insert_values
from storage.merge import DATA_FIELDS, PLACEHOLDER, RECORD_KEYS, merge_into, new_row, record_values, same
from storage.models import Paper, UpvoteSnapshot, utcnow
from storage.records import PaperRecord
from storage.states import PaperSource

PAPERS: Table = Paper.__table__  # type: ignore[assignment]
SNAPSHOTS: Table = UpvoteSnapshot.__table__  # type: ignore[assignment]

__all__ = [
    "PAPERS",
    "PLACEHOLDER",
    "SNAPSHOTS",
    "UpsertStats",
    "count_papers",
    "daily_papers",
    "get_paper",
    "get_papers",
    "ids_with_categories",
    "upsert_papers",
]


@dataclasses.dataclass
class UpsertStats:
    """What an upsert did: every record counts exactly once as inserted, updated or unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertStats) -> UpsertStats:
        return UpsertStats(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )

    def merge(self, other: UpsertStats) -> None:
        """Add `other`'s counts to this one in place."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def upsert_papers(*, session: Session, records: Iterable[PaperRecord], seen_on: date | None = None) -> UpsertStats:
    """Insert new papers and merge known ones; with `seen_on`, keep that day's HF upvotes per paper."""
    stats = UpsertStats()
    for chunk in chunks(records, CHUNK):
        stats.merge(_upsert_chunk(session, chunk))
        if seen_on is not None:
            _snapshot_upvotes(session, chunk, seen_on)
    return stats


def get_paper(*, session: Session, arxiv_id: str) -> Paper | None:
    """The paper with this versionless arXiv id, or None."""
    # populate_existing: the upsert writes through Core, so objects already in this session may be stale.
    return session.get(Paper, arxiv_id, populate_existing=True)


def get_papers(*, session: Session, arxiv_ids: Iterable[str]) -> dict[str, Paper]:
    """The known papers among `arxiv_ids`, by id (unknown ids are simply absent)."""
    found: dict[str, Paper] = {}
    for chunk in chunks(set(arxiv_ids), CHUNK):
        query = select(Paper).where(Paper.arxiv_id.in_(chunk)).execution_options(populate_existing=True)
        found.update((p.arxiv_id, p) for p in session.scalars(query))
    return found


def daily_papers(*, session: Session, day: date) -> list[Paper]:
    """The papers on HF Daily Papers on `day`, most upvoted first (unknown upvotes last, then by id).

    Rows that only the bundled sample ever stored are not a real list (older databases may hold sample rows
    stamped with a daily date), so they are left out, and so are placeholders (which carry no date anyway)."""
    query = (
        select(Paper)
        .where(Paper.daily_date == day, Paper.source.not_in((PaperSource.SAMPLE, PLACEHOLDER)))
        # `IS NULL` sorts false (0) before true (1) everywhere, unlike NULLS LAST which not every engine has.
        .order_by(Paper.hf_upvotes.is_(None), Paper.hf_upvotes.desc(), Paper.arxiv_id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def ids_with_categories(*, session: Session, arxiv_ids: Iterable[str]) -> set[str]:
    """Which of `arxiv_ids` are stored with arXiv categories (so asking arXiv about them again is not needed)."""
    found: set[str] = set()
    for chunk in chunks(set(arxiv_ids), CHUNK):
        condition, params = id_in(session, PAPERS.c.arxiv_id, set(chunk))
        rows = session.execute(select(PAPERS.c.arxiv_id, PAPERS.c.categories).where(condition), params)
        found.update(key for key, categories in rows if categories)
    return found


def count_papers(*, session: Session) -> int:
    """How many papers the database knows."""
    return session.scalar(select(func.count()).select_from(PAPERS)) or 0


def _upsert_chunk(session: Session, records: Sequence[PaperRecord]) -> UpsertStats:
    """One SELECT of the chunk's known ids, then one bulk INSERT (and for known papers one bulk UPDATE)."""
    ids = {r.arxiv_id for r in records}
    known_ids = _known_ids(session, ids)
    now = utcnow()
    if not known_ids and len(ids) == len(records):
        # A bulk import's usual chunk: every paper new and named once, so rows go straight from the records.
        rows = [(*record_values(r), now, now) for r in records]
        insert_values(session, PAPERS, (*RECORD_KEYS, "created_at", "updated_at"), rows)
        return UpsertStats(inserted=len(records))
    known = _known_rows(session, known_ids)
    merged: dict[str, dict[str, Any]] = {}  # known papers as rows the merge rules may change
    new: dict[str, dict[str, Any]] = {}
    changed: set[str] = set()
    stats = UpsertStats()
    for record in records:
        key = record.arxiv_id
        stored = known.get(key)
        if stored is not None and key not in merged:
            if same(stored, record):
                stats.unchanged += 1  # a re-import's usual record, told without building a row
                continue
            merged[key] = dict(zip(("arxiv_id", "source", *DATA_FIELDS), (key, *stored), strict=True))
        current = merged.get(key) or new.get(key)
        if current is None:
            new[key] = new_row(record, now)
            stats.inserted += 1
        elif merge_into(current, record):
            if key in known:
                changed.add(key)
            stats.updated += 1
        else:
            stats.unchanged += 1
    if new:
        bulk_insert(session, PAPERS, list(new.values()))
    if changed:
        _update_rows(session, [merged[i] for i in changed], now)
    return stats


def _known_ids(session: Session, ids: set[str]) -> set[str]:
    """Which of `ids` are already stored."""
    condition, params = id_in(session, PAPERS.c.arxiv_id, ids)
    return set(session.scalars(select(PAPERS.c.arxiv_id).where(condition), params))


def _known_rows(session: Session, ids: set[str]) -> dict[str, tuple[Any, ...]]:
    """The stored source and DATA_FIELDS of papers `ids`, by id."""
    if not ids:
        return {}
    # JSON columns come as text and are decoded by msgspec: the drivers' json.loads was the largest single cost
    # of a profiled re-import.
    columns = [PAPERS.c[name] for name in ("source", *DATA_FIELDS)]
    is_json = [isinstance(column.type, JSON) for column in columns]
    selected = [cast(column, Text) if json else column for column, json in zip(columns, is_json, strict=True)]
    condition, params = id_in(session, PAPERS.c.arxiv_id, ids)
    rows = session.execute(select(PAPERS.c.arxiv_id, *selected).where(condition), params)
    decode = msgspec.json.decode
    return {
        key: tuple(decode(v) if json and v is not None else v for v, json in zip(values, is_json, strict=True))
        for key, *values in rows
    }


def _update_rows(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Rewrite the data columns of changed rows in one executemany (uniform keys keep it one statement)."""
    names = ("source", *DATA_FIELDS)
    statement = (
        update(PAPERS)
        .where(PAPERS.c.arxiv_id == bindparam("key"))
        .values({name: bindparam(f"v_{name}") for name in names} | {"updated_at": bindparam("v_updated_at")})
    )
    params = [{"key": row["arxiv_id"], "v_updated_at": now} | {f"v_{n}": row[n] for n in names} for row in rows]
    session.connection().execute(statement, params)


def _snapshot_upvotes(session: Session, records: Sequence[PaperRecord], day: date) -> None:
    """Keep each paper's upvotes as seen on `day`; a later fetch the same day overwrites that day's figure."""
    latest = {r.arxiv_id: r.hf_upvotes for r in records if r.hf_upvotes is not None and r.source != PaperSource.SAMPLE}
    if not latest:
        return
    query = select(SNAPSHOTS.c.arxiv_id, SNAPSHOTS.c.upvotes).where(
        SNAPSHOTS.c.day == day, SNAPSHOTS.c.arxiv_id.in_(latest)
    )
    known: dict[str, int] = {i: n for i, n in session.execute(query)}
    fresh = [{"arxiv_id": i, "day": day, "upvotes": n} for i, n in latest.items() if i not in known]
    stale = [{"key": i, "v_upvotes": n} for i, n in latest.items() if i in known and known[i] != n]
    if fresh:
        bulk_insert(session, SNAPSHOTS, fresh)
    if stale:
        statement = (
            update(SNAPSHOTS)
            .where(SNAPSHOTS.c.arxiv_id == bindparam("key"), SNAPSHOTS.c.day == day)
            .values(upvotes=bindparam("v_upvotes"))
        )
        session.connection().execute(statement, stale)
