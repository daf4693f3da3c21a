"""The merge rules of the paper upsert (storage.papers.upsert_papers), as pure functions on rows and records.

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
from datetime import datetime
from operator import attrgetter
from typing import Any

from storage.records import PaperRecord
from storage.states import PaperSource

# Everything a record can say about a paper, besides its key and where it came from.
DATA_FIELDS = tuple(f.name for f in dataclasses.fields(PaperRecord) if f.name not in ("arxiv_id", "source"))
data_of = attrgetter(*DATA_FIELDS)
PLACEHOLDER = PaperSource.LINK  # the source of a shared link's paper row until a real record arrives
SOURCE_RANK: dict[str, int] = {
    PLACEHOLDER: -1,
    PaperSource.SAMPLE: 0,
    PaperSource.SNAPSHOT: 1,
    PaperSource.ARXIV: 2,
    PaperSource.HF: 3,
}

# Columns of a new paper's row, in the order record_values picks them from a record.
RECORD_KEYS = ("arxiv_id", "source", *DATA_FIELDS)
record_values = attrgetter(*RECORD_KEYS)


def same(stored: tuple[Any, ...], record: PaperRecord) -> bool:
    """Whether `record` says exactly what is stored (source, then DATA_FIELDS), so merging changes nothing."""
    return data_of(record) == stored[1:] and SOURCE_RANK.get(record.source, 0) <= SOURCE_RANK.get(stored[0], 0)


def new_row(record: PaperRecord, now: datetime) -> dict[str, Any]:
    """The row of a paper nobody stored yet, from its record."""
    row = dict(zip(DATA_FIELDS, data_of(record), strict=True))
    # Lists are copied so later merges into this pending row never alias the caller's record.
    row.update(authors=list(record.authors), categories=list(record.categories), ai_keywords=list(record.ai_keywords))
    row.update(arxiv_id=record.arxiv_id, source=record.source, created_at=now, updated_at=now)
    return row


def merge_into(row: dict[str, Any], record: PaperRecord) -> bool:
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
