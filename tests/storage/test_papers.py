"""The paper upsert: idempotent, merge rules, per-day upvote snapshots, and the reads built on it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import UpvoteSnapshot
from storage.papers import (
    UpsertStats,
    count_papers,
    daily_papers,
    get_paper,
    get_papers,
    ids_with_categories,
    upsert_papers,
)
from storage.records import PaperRecord

DAY = date(2025, 11, 24)


def record(arxiv_id: str = "2411.00001", **fields: object) -> PaperRecord:
    values: dict[str, object] = {"title": f"Paper {arxiv_id}", "authors": ["Ada Lovelace"], "daily_date": DAY}
    values.update(fields)
    return PaperRecord(arxiv_id=arxiv_id, **values)  # type: ignore[arg-type]


def upsert(sessions: sessionmaker[Session], *records: PaperRecord, seen_on: date | None = None) -> UpsertStats:
    with sessions.begin() as s:
        return upsert_papers(session=s, records=list(records), seen_on=seen_on)


def snapshots(sessions: sessionmaker[Session]) -> list[tuple[str, date, int]]:
    with sessions.begin() as s:
        rows = s.execute(select(UpvoteSnapshot.arxiv_id, UpvoteSnapshot.day, UpvoteSnapshot.upvotes))
        return sorted((i, d, n) for i, d, n in rows)


def test_upserting_the_same_records_twice_changes_nothing(sessions: sessionmaker[Session]) -> None:
    papers = [
        record("2411.00001", hf_upvotes=5),
        record("hep-th/9901001", title="Old style", hf_upvotes=None),
    ]
    assert upsert(sessions, *papers, seen_on=DAY) == UpsertStats(inserted=2)
    with sessions.begin() as s:
        stamp = get_paper(session=s, arxiv_id="hep-th/9901001").updated_at  # type: ignore[union-attr]

    assert upsert(sessions, *papers, seen_on=DAY) == UpsertStats(unchanged=2)
    with sessions.begin() as s:
        assert count_papers(session=s) == 2
        assert get_paper(session=s, arxiv_id="hep-th/9901001").updated_at == stamp  # type: ignore[union-attr]
    assert snapshots(sessions) == [("2411.00001", DAY, 5)]


def test_none_and_empty_never_overwrite_but_new_values_do(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record(abstract="An abstract.", categories=["cs.CL"], hf_upvotes=3, github_stars=10))

    partial = record(title="Paper 2411.00001", authors=[], abstract=None, categories=[], hf_upvotes=7)
    assert upsert(sessions, partial) == UpsertStats(updated=1)

    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None
        assert (paper.abstract, paper.categories, paper.authors) == (
            "An abstract.",
            ["cs.CL"],
            ["Ada Lovelace"],
        )
        assert (paper.hf_upvotes, paper.github_stars) == (7, 10)


def test_version_and_source_only_move_forward(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record(version="v3", updated=date(2025, 2, 1), source="hf"))
    older = record(version="v2", updated=date(2025, 1, 1), source="snapshot", doi="10.1/x")
    assert upsert(sessions, older) == UpsertStats(updated=1)  # the DOI is new
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None
        assert (paper.version, paper.updated, paper.source, paper.doi) == (
            "v3",
            date(2025, 2, 1),
            "hf",
            "10.1/x",
        )


def test_duplicates_within_one_call_merge(sessions: sessionmaker[Session]) -> None:
    stats = upsert(sessions, record(hf_upvotes=1), record(hf_upvotes=1), record(hf_upvotes=4))
    assert stats == UpsertStats(inserted=1, unchanged=1, updated=1)
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2411.00001").hf_upvotes == 4  # type: ignore[union-attr]


def test_upvote_snapshots_are_kept_per_day(sessions: sessionmaker[Session]) -> None:
    next_day = date(2025, 11, 25)
    upsert(sessions, record(hf_upvotes=3), seen_on=DAY)
    upsert(sessions, record(hf_upvotes=9), seen_on=DAY)  # a later fetch the same day wins
    upsert(sessions, record(hf_upvotes=12), seen_on=next_day)
    upsert(sessions, record("2411.00002", hf_upvotes=None), seen_on=next_day)  # unknown upvotes: no snapshot
    assert snapshots(sessions) == [("2411.00001", DAY, 9), ("2411.00001", next_day, 12)]


def test_daily_papers_ranks_by_upvotes_unknown_last(sessions: sessionmaker[Session]) -> None:
    upsert(
        sessions,
        record("2411.00003", hf_upvotes=None),
        record("2411.00002", hf_upvotes=8),
        record("2411.00004", hf_upvotes=8),
        record("2411.00001", hf_upvotes=20),
        record("2411.00009", hf_upvotes=99, daily_date=date(2025, 11, 21)),
        record("2411.00010", hf_upvotes=99, daily_date=None),
    )
    with sessions.begin() as s:
        ranked = [p.arxiv_id for p in daily_papers(session=s, day=DAY)]
        found = get_papers(session=s, arxiv_ids=["2411.00002", "9999.99999"])
    assert ranked == ["2411.00001", "2411.00002", "2411.00004", "2411.00003"]
    assert list(found) == ["2411.00002"]


def test_a_large_batch_spans_chunks(sessions: sessionmaker[Session]) -> None:
    batch = [record(f"2411.{n:05d}", hf_upvotes=n) for n in range(2500)]
    assert upsert(sessions, *batch) == UpsertStats(inserted=2500)
    batch[1234] = record("2411.01234", hf_upvotes=0, github_stars=3)
    assert upsert(sessions, *batch) == UpsertStats(updated=1, unchanged=2499)
    with sessions.begin() as s:
        assert count_papers(session=s) == 2500
        assert get_paper(session=s, arxiv_id="2411.01234").github_stars == 3  # type: ignore[union-attr]


def test_the_same_record_from_a_more_trusted_source_updates_only_the_source(sessions: sessionmaker[Session]) -> None:
    snapshot = record(source="snapshot", categories=["cs.CL"], published=date(2025, 11, 20))
    upsert(sessions, snapshot)
    assert upsert(sessions, snapshot) == UpsertStats(unchanged=1)
    assert upsert(sessions, record(source="hf", categories=["cs.CL"], published=date(2025, 11, 20))) == UpsertStats(
        updated=1
    )
    assert upsert(sessions, snapshot) == UpsertStats(unchanged=1)  # never back down to the snapshot
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2411.00001").source == "hf"  # type: ignore[union-attr]


def updated_at(sessions: sessionmaker[Session], arxiv_id: str = "2411.00001") -> object:
    with sessions.begin() as s:
        return get_paper(session=s, arxiv_id=arxiv_id).updated_at  # type: ignore[union-attr]


def test_conflicting_snapshot_duplicates_settle_on_the_newest_and_a_second_import_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    # One paper twice in one file: the later line is the older version, with other categories and a DOI.
    newer = record(
        source="snapshot",
        version="v2",
        updated=date(2025, 3, 1),
        categories=["cs.LG"],
        daily_date=None,
        title="Final title",
    )
    older = record(
        source="snapshot",
        version="v1",
        updated=date(2025, 1, 1),
        categories=["cs.CL"],
        daily_date=None,
        title="First title",
        doi="10.1/x",
    )
    assert upsert(sessions, newer, older) == UpsertStats(inserted=1, updated=1)  # the older line fills the DOI
    stamp = updated_at(sessions)

    assert upsert(sessions, newer, older) == UpsertStats(unchanged=2)
    assert upsert(sessions, older, newer) == UpsertStats(unchanged=2)  # whatever the order
    assert updated_at(sessions) == stamp
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None
        assert (paper.title, paper.categories, paper.version, paper.updated, paper.doi) == (
            "Final title",
            ["cs.LG"],
            "v2",
            date(2025, 3, 1),
            "10.1/x",
        )


def test_a_newer_snapshot_line_replaces_and_the_same_version_updated_later_does_too(
    sessions: sessionmaker[Session],
) -> None:
    upsert(sessions, record(source="snapshot", version="v1", updated=date(2025, 1, 1), categories=["cs.CL"]))
    assert upsert(
        sessions, record(source="snapshot", version="v1", updated=date(2025, 2, 1), categories=["cs.AI"])
    ) == UpsertStats(updated=1)
    # Same version, no `updated`: not newer, so it only fills gaps (there are none).
    assert upsert(sessions, record(source="snapshot", version="v1", categories=["cs.RO"])) == UpsertStats(unchanged=1)
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2411.00001").categories == ["cs.AI"]  # type: ignore[union-attr]


def test_hf_fields_still_follow_the_newest_fetch_over_a_snapshot(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record(source="snapshot", version="v3", updated=date(2025, 3, 1), categories=["cs.CL"]))
    assert upsert(sessions, record(source="hf", hf_upvotes=7)) == UpsertStats(updated=1)
    assert upsert(sessions, record(source="hf", hf_upvotes=9)) == UpsertStats(updated=1)
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None and (paper.hf_upvotes, paper.categories, paper.source) == (9, ["cs.CL"], "hf")


def test_a_sample_record_never_changes_a_known_paper(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record(title="Real title", hf_upvotes=3, daily_date=date(2025, 11, 20)), seen_on=DAY)
    stamp = updated_at(sessions)
    sample = record(
        title="Sample title", hf_upvotes=99, abstract="Sample abstract.", categories=["cs.CL"], source="sample"
    )
    assert upsert(sessions, sample, seen_on=date(2025, 11, 25)) == UpsertStats(unchanged=1)
    assert updated_at(sessions) == stamp
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None
        assert (paper.title, paper.hf_upvotes, paper.abstract, paper.categories, paper.daily_date, paper.source) == (
            "Real title",
            3,
            None,
            [],
            date(2025, 11, 20),
            "hf",
        )
    assert snapshots(sessions) == [("2411.00001", DAY, 3)]  # the sample's upvotes are not kept

    # A paper nobody knows may come from the sample; a real source then takes it over.
    assert upsert(sessions, record("2411.00002", source="sample", hf_upvotes=5)) == UpsertStats(inserted=1)
    assert upsert(sessions, record("2411.00002", source="hf", hf_upvotes=6)) == UpsertStats(updated=1)
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2411.00002").source == "hf"  # type: ignore[union-attr]


def test_daily_papers_leaves_out_rows_only_the_sample_stored(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record("2411.00001", hf_upvotes=1), record("2411.00002", hf_upvotes=50, source="sample"))
    with sessions.begin() as s:
        assert [p.arxiv_id for p in daily_papers(session=s, day=DAY)] == ["2411.00001"]
    upsert(sessions, record("2411.00002", hf_upvotes=50, source="hf"))  # now HF listed it too
    with sessions.begin() as s:
        assert [p.arxiv_id for p in daily_papers(session=s, day=DAY)] == ["2411.00002", "2411.00001"]


def test_ids_with_categories(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, record("2411.00001", categories=["cs.CL"]), record("2411.00002"))
    with sessions.begin() as s:
        found = ids_with_categories(session=s, arxiv_ids=["2411.00001", "2411.00002", "2411.00003"])
    assert found == {"2411.00001"}


def test_a_paper_on_two_lists_follows_the_newest_list_in_any_order(sessions: sessionmaker[Session]) -> None:
    monday = record(hf_upvotes=5, daily_date=DAY)
    tuesday = record(hf_upvotes=12, daily_date=date(2025, 11, 25))
    assert upsert(sessions, tuesday, monday) == UpsertStats(inserted=1, unchanged=1)
    assert upsert(sessions, monday, tuesday) == UpsertStats(unchanged=2)
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2411.00001")
        assert paper is not None and (paper.hf_upvotes, paper.daily_date) == (12, date(2025, 11, 25))
