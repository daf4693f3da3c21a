"""Papers: the one idempotent upsert every source goes through, and the reads the digest and search need.

Merge rules (issue #3): a paper is keyed by its versionless arXiv id; a None, empty string or empty list in a
record never overwrites a known value; any other value that differs replaces the stored one (so upvotes, stars
and comment counts follow the newest fetch), except `version` and `updated`, which only move forward, and
`source`, which only moves up in trust (link < sample < snapshot < arxiv < hf). A 'link' record is a
placeholder: the row a shared link needs at once (posts and votes point at a paper row) while the paper is
fetched, with nothing but the title `arXiv:<id>`. It is only ever inserted, never changes a known paper, and any
later record, the sample's too, replaces all of its values, whatever the rules below say. Two sources are held
back further:
- a 'snapshot' record (a line of an arXiv metadata file) replaces stored values only when it is newer than what
  is stored (a higher version, or the same version with a later `updated`) and what is stored came from a
  snapshot too; otherwise it only fills gaps. A file holding one paper twice with different content thus
  settles on the newest line at the first import, and the next import of it changes nothing; and a paper
  Hugging Face or the arXiv API described keeps their values (a snapshot, a dump of arXiv at some past date,
  only adds what they lacked), so importing a snapshot beside HF data settles at once too;
- a record from an older HF daily list than the stored `daily_date` (a paper on two lists) only fills gaps: the
  stored values, `daily_date` included, follow the newest list, whatever order the lists come in (each list's
  upvotes are still kept in that day's snapshot);
- a 'sample' record (the bundled sample) may insert a paper nobody knows but never changes a known one, and
  keeps no upvote snapshot: the sample must never corrupt real data.
Unchanged papers are not written at all, so re-importing a file leaves every row, `updated_at` included, as it
was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from itertools import islice
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Dialect,
    Insert,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.models import Paper, UpvoteSnapshot, utcnow
from storage.records import PaperRecord
from storage.states import PaperSource

PAPERS: Table = Paper.__table__  # type: ignore[assignment]
SNAPSHOTS: Table = UpvoteSnapshot.__table__  # type: ignore[assignment]

# Everything a record can say about a paper, besides its key and where it came from.
DATA_FIELDS = tuple(f.name for f in dataclasses.fields(PaperRecord) if f.name not in ("arxiv_id", "source"))
_data_of = attrgetter(*DATA_FIELDS)
PLACEHOLDER = PaperSource.LINK  # the source of a shared link's paper row until a real record arrives
SOURCE_RANK: dict[str, int] = {
    PLACEHOLDER: -1,
    PaperSource.SAMPLE: 0,
    PaperSource.SNAPSHOT: 1,
    PaperSource.ARXIV: 2,
    PaperSource.HF: 3,
}

# Columns of a new paper's row, in the order _record_values picks them from a record.
RECORD_KEYS = ("arxiv_id", "source", *DATA_FIELDS)
_record_values = attrgetter(*RECORD_KEYS)

# Records per SELECT of known ids and per bulk write: the import's whole default batch, so each batch costs one
# round of statements (the ids go as one parameter, so no driver's parameter limit applies).
CHUNK = 5000


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
    for chunk in _chunks(records, CHUNK):
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
    for chunk in _chunks(set(arxiv_ids), CHUNK):
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
    for chunk in _chunks(set(arxiv_ids), CHUNK):
        condition, params = _id_in(session, set(chunk))
        rows = session.execute(select(PAPERS.c.arxiv_id, PAPERS.c.categories).where(condition), params)
        found.update(key for key, categories in rows if categories)
    return found


def count_papers(*, session: Session) -> int:
    """How many papers the database knows."""
    return session.scalar(select(func.count()).select_from(PAPERS)) or 0


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _upsert_chunk(session: Session, records: Sequence[PaperRecord]) -> UpsertStats:
    """One SELECT of the chunk's known ids, then one bulk INSERT (and for known papers one bulk UPDATE)."""
    ids = {r.arxiv_id for r in records}
    known_ids = _known_ids(session, ids)
    now = utcnow()
    if not known_ids and len(ids) == len(records):
        # A bulk import's usual chunk: every paper new and named once, so rows go straight from the records.
        rows = [(*_record_values(r), now, now) for r in records]
        _insert_values(session, PAPERS, (*RECORD_KEYS, "created_at", "updated_at"), rows)
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
            if _same(stored, record):
                stats.unchanged += 1  # a re-import's usual record, told without building a row
                continue
            merged[key] = dict(zip(("arxiv_id", "source", *DATA_FIELDS), (key, *stored), strict=True))
        current = merged.get(key) or new.get(key)
        if current is None:
            new[key] = _new_row(record, now)
            stats.inserted += 1
        elif _merge_into(current, record):
            if key in known:
                changed.add(key)
            stats.updated += 1
        else:
            stats.unchanged += 1
    if new:
        _bulk_insert(session, PAPERS, list(new.values()))
    if changed:
        _update_rows(session, [merged[i] for i in changed], now)
    return stats


def _same(stored: tuple[Any, ...], record: PaperRecord) -> bool:
    """Whether `record` says exactly what is stored (source, then DATA_FIELDS), so merging changes nothing."""
    return _data_of(record) == stored[1:] and SOURCE_RANK.get(record.source, 0) <= SOURCE_RANK.get(stored[0], 0)


def _known_ids(session: Session, ids: set[str]) -> set[str]:
    """Which of `ids` are already stored."""
    condition, params = _id_in(session, ids)
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
    condition, params = _id_in(session, ids)
    rows = session.execute(select(PAPERS.c.arxiv_id, *selected).where(condition), params)
    decode = msgspec.json.decode
    return {
        key: tuple(decode(v) if json and v is not None else v for v, json in zip(values, is_json, strict=True))
        for key, *values in rows
    }


def _id_in(session: Session, ids: set[str]) -> tuple[ColumnElement[bool], dict[str, Any]]:
    """`arxiv_id IN ids` with the ids as one parameter: compiling (and psycopg parsing) a 5,000-placeholder
    IN (...) took longer than the query itself."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return PAPERS.c.arxiv_id == any_(bindparam("ids", type_=ARRAY(Text))), {"ids": list(ids)}
    if dialect == "sqlite":
        each: Select[Any] = select(literal_column("value")).select_from(func.json_each(bindparam("ids")))
        return PAPERS.c.arxiv_id.in_(each), {"ids": msgspec.json.encode(list(ids)).decode()}
    return PAPERS.c.arxiv_id.in_(ids), {}


def _new_row(record: PaperRecord, now: datetime) -> dict[str, Any]:
    row = dict(zip(DATA_FIELDS, _data_of(record), strict=True))
    # Lists are copied so later merges into this pending row never alias the caller's record.
    row.update(authors=list(record.authors), categories=list(record.categories), ai_keywords=list(record.ai_keywords))
    row.update(arxiv_id=record.arxiv_id, source=record.source, created_at=now, updated_at=now)
    return row


def _merge_into(row: dict[str, Any], record: PaperRecord) -> bool:
    """Apply the merge rules of this module's docstring to `row`; True when anything changed."""
    placeholder = row["source"] == PLACEHOLDER  # no one's data: every value of any real record replaces it
    if record.source in (PaperSource.SAMPLE, PLACEHOLDER) and not placeholder:
        return False  # the sample may insert a paper or fill a placeholder, never change one; nor may a placeholder
    snapshot_held_back = record.source == PaperSource.SNAPSHOT and (not _newer(record, row) or _from_live_source(row))
    gaps_only = not placeholder and (snapshot_held_back or _older_list(record, row))
    changed = False
    for name in DATA_FIELDS:
        value = getattr(record, name)
        if value is None or value == "" or value == []:
            continue
        if gaps_only and row[name] is not None and row[name] != "" and row[name] != []:
            continue
        if name == "version" and _version_number(value) <= _version_number(row["version"]):
            continue
        if name == "updated" and row["updated"] is not None and value <= row["updated"]:
            continue
        if row[name] != value:
            row[name] = list(value) if isinstance(value, list) else value
            changed = True
    if SOURCE_RANK.get(record.source, 0) > SOURCE_RANK.get(row["source"], 0):
        row["source"] = record.source
        changed = True
    return changed


def _newer(record: PaperRecord, row: dict[str, Any]) -> bool:
    """Whether `record` describes a later state of the paper than `row`: a higher version, or the same version
    with a later `updated` date (a record without one is never the newer)."""
    mine, stored = _version_number(record.version), _version_number(row["version"])
    if mine != stored:
        return mine > stored
    return record.updated is not None and (row["updated"] is None or record.updated > row["updated"])


def _from_live_source(row: dict[str, Any]) -> bool:
    """Whether `row` was last written by Hugging Face or the arXiv API, which outrank a snapshot file: a
    snapshot line then only fills its gaps (else a file imported beside HF data would flip fields such as the
    authors' spelling back and forth on every import)."""
    return SOURCE_RANK.get(row["source"], 0) > SOURCE_RANK[PaperSource.SNAPSHOT]


def _older_list(record: PaperRecord, row: dict[str, Any]) -> bool:
    """Whether `record` comes from an older HF daily list than the stored one (a paper on two lists)."""
    return record.daily_date is not None and row["daily_date"] is not None and record.daily_date < row["daily_date"]


def _version_number(version: str | None) -> int:
    """`_version_number("v3") == 3`; None or anything unparsable counts as 0."""
    digits = (version or "").lstrip("vV")
    return int(digits) if digits.isdigit() else 0


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
        _bulk_insert(session, SNAPSHOTS, fresh)
    if stale:
        statement = (
            update(SNAPSHOTS)
            .where(SNAPSHOTS.c.arxiv_id == bindparam("key"), SNAPSHOTS.c.day == day)
            .values(upvotes=bindparam("v_upvotes"))
        )
        session.connection().execute(statement, stale)


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts, all with the same keys), skipping any a concurrent writer added meanwhile."""
    keys = tuple(rows[0])
    pick = itemgetter(*keys)  # a tuple of values, unless there is only one key
    values = [pick(row) for row in rows] if len(keys) > 1 else [(row[keys[0]],) for row in rows]
    _insert_values(session, table, keys, values)


def _insert_values(session: Session, table: Table, keys: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT `rows` (tuples of `keys`' values): COPY on PostgreSQL, else one driver-level executemany.

    SQLAlchemy compiles the statement and supplies each column's bind processing once; applying it here a
    column at a time (mostly in C) skips the per-row parameter machinery that dominated a profiled bulk import.
    """
    connection = session.connection()
    dialect = connection.dialect
    columns = [list(column) for column in zip(*rows, strict=True)]
    for i, key in enumerate(keys):
        if convert := _converter(table, key, dialect):
            columns[i] = convert(columns[i])
    if dialect.name == "postgresql" and _copy_rows(session, table, keys, zip(*columns, strict=True)):
        return
    compiled = _insert_ignoring_duplicates(session, table).compile(dialect=dialect, column_keys=list(keys))
    if compiled.positional:
        by_key = dict(zip(keys, columns, strict=True))
        params: list[Any] = list(zip(*(by_key[key] for key in compiled.positiontup or ()), strict=True))
    else:
        params = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
    connection.exec_driver_sql(str(compiled), params)


def _converter(table: Table, key: str, dialect: Dialect) -> Callable[[list[Any]], list[Any]] | None:
    """What turns a column of `key`'s values into what the driver stores, as SQLAlchemy would; None when the
    values go to the driver as they are."""
    column_type = table.c[key].type
    if isinstance(column_type, JSON):
        # The same JSON value SQLAlchemy would store, as text from msgspec's C encoder (several times faster
        # than json.dumps); PostgreSQL parses the text into jsonb.
        return _json_texts
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None

    def convert(values: list[Any]) -> list[Any]:
        # Dates and timestamps repeat, so each distinct value is converted once and looked up in C.
        try:
            done = {value: process(value) for value in set(values)}
        except TypeError:  # unhashable
            return [process(value) for value in values]
        return list(map(done.__getitem__, values))

    return convert


def _json_texts(values: list[Any]) -> list[str]:
    """Each value as JSON text."""
    return list(map(bytes.decode, map(msgspec.json.encode, values)))


def _copy_rows(session: Session, table: Table, keys: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> bool:
    """PostgreSQL's COPY (a profiled import ran 1.7x faster than with executemany); False if it conflicted.

    COPY cannot skip duplicates, but the rows were just checked to be new: should a concurrent writer have added
    one since, the savepoint undoes the COPY and the caller falls back to INSERT ... ON CONFLICT DO NOTHING.
    """
    from psycopg.errors import UniqueViolation

    try:
        with session.begin_nested():
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table.name} ({', '.join(keys)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    except UniqueViolation:
        return False
    return True


def _insert_ignoring_duplicates(session: Session, table: Table) -> Insert:
    """INSERT that skips rows a concurrent writer added since our SELECT rather than fail the transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)
